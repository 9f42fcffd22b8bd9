// npm run bench -- --stream [events] [--json]: seed 001's workload on each engine, in its own process:
//   HTTP ingest (ingest routes: publishDirect, no outbox) → log → a stream consumer validating the
//   events, counting each user's events per one-minute window (5 s grace) in the window store, and
//   publishing each window's final count through the outbox.
// For each engine, four runs on fresh files and clusters:
//   1. consumer: `events` events appended directly (calls of 1,000) before it starts; its
//      throughput from its first committed batch to its last: one consumer instance, 3
//      partitions (the Kafka mock gives every topic 4);
//   2. HTTP ingest flat out: one event per POST from 64 keep-alive connections (a worker thread),
//      against a reference in the same run: bare fastify answering 202 to the same client, which
//      is what HTTP itself allows on this machine;
//   3. end to end at 5,000 events/s in POSTs of 50 events (`/v1/events:batch`, as SDKs batch);
//   4. end to end at 2,000 events/s, one event per POST;
//   latency runs from the client's send to the commit of the event's window update (the
//   consumer's critical time: the event time is the send time).
// Seed 001's bars are the targets: at least 10,000 events/s per consumer instance, p99 < 100 ms.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import type { App, SqlTx } from '@herald/core';
import { engines } from './engines.js';
import { percentile, round } from './stats.js';
import type { LoadOrder, LoadReport } from './streamLoad.js';
import { AnalyticsEvent, system, url } from './streamSystem.js';

const ENGINES = ['embedded', 'kafka-postgres'] as const;
const TARGETS = { consumerEventsPerSec: 10_000, p99Ms: 100 } as const;
const RATE = 5_000;
const RATE_BATCH = 50;
const SINGLE_RATE = 2_000;
const LATENCY_SECONDS = 6;
const HTTP_EVENTS = 20_000;
const USERS = 1_000;
/**
 * The most events run 1 preloads on the Kafka mock: it keeps ~5 MiB per partition and silently
 * drops the oldest beyond that, and the topic has 4 partitions (~20 MiB for ~450-byte envelopes).
 */
const KAFKA_MOCK_BACKLOG = 30_000;
interface Measured {
  engine: string;
  events: number;
  consumer: { eventsPerSec: number; appendEventsPerSec: number };
  httpIngest: { eventsPerSec: number; ackP99Ms: number; bareFastifyPerSec: number };
  endToEnd: Latency;
  endToEndSingle: Latency;
  peakRssMiB: number;
}

interface Latency {
  ratePerSec: number;
  events: number;
  eventsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ackP99Ms: number;
}

function load(order: LoadOrder): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    // a worker does not inherit tsx's loader: it registers it, then loads the TypeScript file
    const file = JSON.stringify(new URL('./streamLoad.ts', import.meta.url).href);
    const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${file}); })`, { eval: true, workerData: order });
    worker.once('message', (report: LoadReport) => resolve(report));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
  });
}

async function measure(engineName: (typeof ENGINES)[number], events: number): Promise<Measured> {
  if (engineName === 'kafka-postgres' && events > KAFKA_MOCK_BACKLOG) events = KAFKA_MOCK_BACKLOG;
  const fresh = async (preload?: (app: App<SqlTx>) => Promise<void>) => system(await engines[engineName]!(true), preload);

  // 1. the consumer's capacity: `events` appended before it starts (calls of 1,000, event time
  //    2 ms apart, so that windows close and their results are published as it goes); measured
  //    from the first batch it committed to the last, so the group's first join is left out
  let consumer: Measured['consumer'];
  {
    let appendEventsPerSec = 0;
    const s = await fresh(async (app) => {
      const base = Date.now() - events * 2;
      const started = performance.now();
      for (let from = 0; from < events; from += 1000) {
        const count = Math.min(1000, events - from);
        const batch = Array.from({ length: count }, (_, i) => ({ eventId: `e-${from + i}`, userId: `user-${(from + i) % USERS}`, type: 'page_view', properties: { page: `/p/${(from + i) % 500}` } }));
        await app.publishDirect.many(AnalyticsEvent, batch, { occurredAt: new Date(base + from * 2) });
      }
      appendEventsPerSec = Math.round((events / (performance.now() - started)) * 1000);
    });
    try {
      await s.until(events);
      const first = s.handled.first!;
      consumer = { eventsPerSec: Math.round(((events - first.count) / (performance.now() - first.at)) * 1000), appendEventsPerSec };
    } finally {
      await s.close();
    }
  }

  // 2. HTTP ingest flat out, and what bare fastify answers to the same client on this machine
  let httpIngest: Measured['httpIngest'];
  {
    const bare = Fastify();
    bare.post('/v1/events', async (_request, reply) => reply.code(202).send({ eventId: 'bare' }));
    await bare.listen({ port: 0, host: '127.0.0.1' });
    const reference = await load({ url: `http://127.0.0.1:${(bare.server.address() as { port: number }).port}/v1/events`, events: HTTP_EVENTS, connections: 64, users: USERS, firstSeq: 0 });
    await bare.close();
    const s = await fresh();
    try {
      const report = await load({ url: url(s.gateway), events: HTTP_EVENTS, connections: 64, users: USERS, firstSeq: 0 });
      if (report.failed > 0) throw new Error(`${engineName}: ${report.failed} ingest requests failed, the first with ${report.firstFailure}`);
      httpIngest = {
        eventsPerSec: Math.round((report.accepted / report.elapsedMs) * 1000),
        ackP99Ms: round(percentile(report.ackMs, 99)),
        bareFastifyPerSec: Math.round((reference.accepted / reference.elapsedMs) * 1000),
      };
      await s.until(HTTP_EVENTS);
    } finally {
      await s.close();
    }
  }

  // 3. and 4. end to end at a fixed rate
  const endToEndAt = async (ratePerSec: number, eventsPerRequest: number): Promise<Latency> => {
    const s = await fresh();
    try {
      const count = ratePerSec * LATENCY_SECONDS;
      const report = await load({ url: url(s.gateway), events: count, ratePerSec, batchSize: eventsPerRequest, connections: 256, users: USERS, firstSeq: 0 });
      if (report.failed > 0) throw new Error(`${engineName}: ${report.failed} ingest requests failed, the first with ${report.firstFailure}`);
      await s.until(count);
      const l = s.handled.latenciesMs;
      return {
        ratePerSec: Math.round((report.accepted / report.elapsedMs) * 1000),
        events: count,
        eventsPerRequest,
        p50Ms: round(percentile(l, 50)),
        p99Ms: round(percentile(l, 99)),
        maxMs: round(Math.max(...l)),
        ackP99Ms: round(percentile(report.ackMs, 99)),
      };
    } finally {
      await s.close();
    }
  };
  const endToEnd = await endToEndAt(RATE, RATE_BATCH);
  const endToEndSingle = await endToEndAt(SINGLE_RATE, 1);
  return { engine: engineName, events, consumer, httpIngest, endToEnd, endToEndSingle, peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1) };
}

const args = process.argv.slice(2);
const engineAt = args.indexOf('--engine');
if (engineAt >= 0) {
  // one engine, in this process: prints one JSON line
  const name = args[engineAt + 1] as (typeof ENGINES)[number];
  if (!ENGINES.includes(name)) throw new Error(`unknown engine ${name}; known: ${ENGINES.join(', ')}`);
  const events = Number(args[engineAt + 2] ?? '100000');
  setTimeout(() => {
    process.stderr.write(`stream bench on ${name}: gave up after 10 minutes\n`);
    process.exit(1);
  }, 600_000).unref();
  process.stdout.write(JSON.stringify(await measure(name, events)) + '\n');
  process.exit(0);
}

/** Runs every engine in its own process and prints the table (or JSON lines with `--json`). */
function runStreamBench(events: string, json: boolean): number {
  const results: Measured[] = [];
  let failed = false;
  for (const engine of ENGINES) {
    if (!json) process.stderr.write(`stream workload on ${engine}: ${events} events to one consumer, ${HTTP_EVENTS} over HTTP flat out, ${RATE * LATENCY_SECONDS} at ${RATE}/s and ${SINGLE_RATE * LATENCY_SECONDS} at ${SINGLE_RATE}/s...\n`);
    const child = spawnSync(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', fileURLToPath(import.meta.url), '--engine', engine, events], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 660_000,
      killSignal: 'SIGKILL',
    });
    if (child.status !== 0) {
      process.stderr.write(`stream workload on ${engine} failed (exit ${child.status ?? child.signal})\n`);
      failed = true;
      continue;
    }
    results.push(JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured);
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  if (json) for (const r of results) process.stdout.write(JSON.stringify({ workload: 'stream', ...r }) + '\n');
  else
    console.table(
      results.map((r) => ({
        engine: r.engine,
        'consumer events/s': `${r.consumer.eventsPerSec} (>= ${TARGETS.consumerEventsPerSec}: ${verdict(r.consumer.eventsPerSec >= TARGETS.consumerEventsPerSec)})`,
        'append events/s': r.consumer.appendEventsPerSec,
        'HTTP ingest events/s': `${r.httpIngest.eventsPerSec} (bare fastify ${r.httpIngest.bareFastifyPerSec})`,
        [`e2e p50/p99 ms @${RATE}/s`]: `${r.endToEnd.p50Ms} / ${r.endToEnd.p99Ms} (p99 < ${TARGETS.p99Ms}: ${verdict(r.endToEnd.p99Ms < TARGETS.p99Ms)})`,
        [`e2e p50/p99 ms @${SINGLE_RATE}/s single`]: `${r.endToEndSingle.p50Ms} / ${r.endToEndSingle.p99Ms}`,
        'peak RSS MiB': r.peakRssMiB,
      })),
    );
  return failed ? 1 : 0;
}

process.exit(runStreamBench(args.find((a) => /^\d+$/.test(a)) ?? '100000', args.includes('--json')));
