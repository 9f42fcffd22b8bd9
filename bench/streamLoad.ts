// The HTTP load generator of the stream benchmark (bench/stream.ts), in a worker thread so that the
// client's own work does not run on the event loop of the system it measures (it still shares the
// machine's two cores, as a client on the same host would). Posts events to the ingest route, one
// per request or in batches, flat out or open loop at a fixed rate, and reports how many were
// accepted and how long each acknowledgement took.
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

export interface LoadOrder {
  readonly url: string;
  readonly events: number;
  /** Open loop at this rate; flat out with `connections` callers when absent. */
  readonly ratePerSec?: number;
  readonly connections: number;
  /** Users the events are spread over (the key). */
  readonly users: number;
  /** Offset of the first event's sequence number, so that runs on one engine do not repeat ids. */
  readonly firstSeq: number;
  /** Events per request: 1 posts `{event}` to `url`, more post `{"events":[...]}` to `url` + `:batch`. */
  readonly batchSize?: number;
}

export interface LoadReport {
  readonly accepted: number;
  readonly failed: number;
  readonly elapsedMs: number;
  /** Acknowledgement latency of every accepted request, ms. */
  readonly ackMs: number[];
  /** Requests sent. */
  readonly requests: number;
  /** What the first failed request got (status and body, or the error), to say why. */
  readonly firstFailure?: string;
}

const TYPES = ['page_view', 'click', 'purchase', 'signup'] as const;
const now = () => performance.timeOrigin + performance.now();

async function run(order: LoadOrder): Promise<LoadReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: order.connections });
  const target = new URL(order.url);
  const ackMs: number[] = [];
  let failed = 0;
  let accepted = 0;
  let firstFailure: string | undefined;
  const fail = (why: string) => {
    failed++;
    firstFailure ??= why;
  };

  const batchSize = order.batchSize ?? 1;
  const path = batchSize === 1 ? target.pathname : `${target.pathname}:batch`;
  const event = (seq: number, timestamp: string) => ({
    eventId: `bench-${seq}`,
    userId: `user-${seq % order.users}`,
    type: TYPES[seq % TYPES.length],
    timestamp,
    properties: { page: `/products/${seq % 500}`, referrer: 'https://example.com/', value: seq % 97 },
  });
  let requests = 0;
  /** Posts the events `seq` to `seq + count - 1` in one request. */
  const post = (seq: number, count: number) =>
    new Promise<void>((resolve) => {
      requests++;
      const sentAt = now();
      // the event time is the send time: the consumer's critical time is then the end-to-end latency
      const timestamp = new Date(sentAt).toISOString();
      const body = JSON.stringify(batchSize === 1 ? event(seq, timestamp) : { events: Array.from({ length: count }, (_, i) => event(seq + i, timestamp)) });
      const req = request(
        { agent, host: target.hostname, port: target.port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let answer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (answer += chunk));
          res.on('end', () => {
            if (res.statusCode === 202) {
              accepted += count;
              ackMs.push(now() - sentAt);
            } else fail(`${res.statusCode} ${answer}`);
            resolve();
          });
        },
      );
      req.on('error', (error) => {
        fail(String(error));
        resolve();
      });
      req.end(body);
    });

  const started = now();
  let sent = 0;
  const next = () => {
    const count = Math.min(batchSize, order.events - sent);
    const seq = order.firstSeq + sent;
    sent += count;
    return post(seq, count);
  };
  if (order.ratePerSec === undefined) {
    await Promise.all(
      Array.from({ length: order.connections }, async () => {
        while (sent < order.events) await next();
      }),
    );
  } else {
    const inFlight: Promise<void>[] = [];
    while (sent < order.events) {
      // a request whenever a whole request's worth of events is due (the last one may be smaller)
      const due = Math.min(order.events, Math.floor(((now() - started) * order.ratePerSec) / 1000) + 1);
      while (due - sent >= batchSize || (due === order.events && sent < order.events)) inFlight.push(next());
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(inFlight);
  }
  const elapsedMs = now() - started;
  agent.destroy();
  return { accepted, failed, requests, elapsedMs, ackMs, ...(firstFailure === undefined ? {} : { firstFailure }) };
}

if (parentPort) parentPort.postMessage(await run(workerData as LoadOrder));
