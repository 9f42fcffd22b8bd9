// Memory while a large backlog drains (`npm run bench -- --backlog [events]`, default 1,000,000):
// the embedded engine's tuned row first fills its log with the whole backlog (producer and relay,
// no consumer), then a consumer app drains it while the process's resident memory is sampled.
// Peak RSS must stay flat: the consumer holds at most its group's maxInFlight deliveries, whatever
// the backlog. Kafka + PostgreSQL is not measured here: librdkafka's mock keeps ~5 MiB per
// partition and silently drops older records, so it cannot hold a backlog this size.
//   node --conditions=@herald/source --import tsx bench/backlog.ts [events]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, hasOutboxBacklog, silentLogger, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { benchEvents } from './herald.js';
import { round } from './stats.js';
import { PAYLOAD, nowMs } from './workload.js';

const events = Number(process.argv[2] ?? 1_000_000);
const dataDir = mkdtempSync(join(tmpdir(), 'herald-backlog-'));
const [Event] = benchEvents(1);
const group = { maxInFlight: 20_000, commitIntervalMs: 100, maxBatch: 1000 } as const;
const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);

try {
  // 1. the backlog: published and relayed into the log, nobody consuming
  const producing = sqliteEngine({ dataDir });
  const producer = createApp<SqlTx>({ ...producing, logger: silentLogger, topics: [{ name: Event!.topic, partitions: 8 }], relay: { batchSize: 2000, idleMs: 5 } });
  await producer.start({ groups: false });
  for (let sent = 0; sent < events; sent += 1000) {
    const count = Math.min(1000, events - sent);
    await producer.publish.many(Event!, Array.from({ length: count }, (_, i) => ({ key: `k${(sent + i) % 1000}`, seq: sent + i, sentAt: 0, payload: PAYLOAD })));
  }
  const outbox = producing.stores.outbox;
  while (hasOutboxBacklog(outbox) && (await outbox.backlog()).length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  await producer.close();
  global.gc?.();

  // 2. the drain, sampling resident memory
  const consuming = sqliteEngine({ dataDir });
  const consumer = createApp<SqlTx>({ ...consuming, logger: silentLogger, relay: false, groups: { drain: group } });
  let applied = 0;
  let drained: () => void = () => {};
  const done = new Promise<void>((resolve) => (drained = resolve));
  consumer.onBatch(Event!, { group: 'drain' }, async (batch, ctx) => {
    await ctx.tx.execute('CREATE TABLE IF NOT EXISTS drained (n INTEGER NOT NULL)');
    await ctx.tx.execute('INSERT INTO drained (n) VALUES ($1)', [batch.length]);
    applied += batch.length;
    if (applied >= events) drained();
  });
  const before = process.memoryUsage().rss;
  let peak = before;
  const samples: number[] = [];
  const sampler = setInterval(() => {
    const rss = process.memoryUsage().rss;
    samples.push(rss);
    peak = Math.max(peak, rss);
  }, 100);
  const started = nowMs();
  await consumer.start();
  await done;
  const elapsedMs = nowMs() - started;
  clearInterval(sampler);
  await consumer.close();
  // RSS over the second half of the drain against the first: flat means no growth with progress
  const half = Math.floor(samples.length / 2);
  const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  process.stdout.write(
    JSON.stringify({
      backlog: events,
      drainEventsPerSec: Math.round((applied / elapsedMs) * 1000),
      rssBeforeDrainMiB: mib(before),
      peakRssDuringDrainMiB: mib(peak),
      averageRssFirstHalfMiB: mib(average(samples.slice(0, half))),
      averageRssSecondHalfMiB: mib(average(samples.slice(half))),
      maxInFlight: group.maxInFlight,
    }) + '\n',
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
