import type { SentEvent, SentMetric } from './scenario.js';
import { pool } from '@herald/testing';

/** One HTTP answer as the tests compare them. */
export interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: unknown;
}

/** Sends one request with a bounded timeout; the body is parsed when it is JSON. */
export async function send(url: string, init: { method?: string; body?: unknown; rawBody?: string } = {}): Promise<Answer> {
  const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const response = await fetch(url, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  return { status: response.status, contentType, body: contentType?.includes('json') ? JSON.parse(text) : text };
}

/** How a test client sends events: one at a time and in batches (HTTP, gRPC unary, gRPC batch, gRPC stream...). */
export interface EventSender {
  readonly name: string;
  /** Sends the events; resolves once each was acknowledged (durable), throws on any refusal. */
  send(events: readonly SentEvent[]): Promise<void>;
}

/** `POST /v1/events`, one request per event, each answered 202 with its id. */
export function httpSingle(producerUrl: string): EventSender {
  return {
    name: 'http',
    async send(events) {
      for (const event of events) {
        const answer = await send(`${producerUrl}/v1/events`, { body: event });
        if (answer.status !== 202 || (answer.body as { eventId?: string }).eventId !== event.eventId) throw new Error(`POST /v1/events: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    },
  };
}

/** `POST /v1/events:batch`, all events in one request, answered 202 with their number. */
export function httpBatch(producerUrl: string): EventSender {
  return {
    name: 'http-batch',
    async send(events) {
      const answer = await send(`${producerUrl}/v1/events:batch`, { body: { events } });
      if (answer.status !== 202 || (answer.body as { accepted?: number }).accepted !== events.length) throw new Error(`POST /v1/events:batch: ${answer.status} ${JSON.stringify(answer.body)}`);
    },
  };
}

/**
 * Each sample over `POST /v1/metrics`, or half of them (two in four) over `other` when given; a
 * sample with an id twice, the second time once the first was acknowledged.
 */
export async function postMetrics(producerUrl: string, metrics: readonly SentMetric[], other?: (metric: SentMetric) => Promise<void>): Promise<void> {
  const post = async (metric: SentMetric) => {
    const answer = await send(`${producerUrl}/v1/metrics`, { body: metric });
    if (answer.status !== 202) throw new Error(`POST /v1/metrics: ${answer.status} ${JSON.stringify(answer.body)}`);
  };
  await pool(metrics, 8, async (metric, i) => {
    const record = other && i % 4 >= 2 ? other : post;
    await record(metric);
    // a sample with an id is sent again, as by a client whose first answer was lost: counted once
    if (metric.sampleId !== undefined) await record(metric);
  });
}

export { eventually, sleep } from '@herald/testing';
export { pool };
