/**
 * Throughput of the embedded engine's parts, with the default durability (fsync at every group
 * commit). Not a test. Run from the repository root:
 *
 *   node --conditions=@herald/source --import tsx packages/sqlite/bench/throughput.ts [--events 100000] [--concurrency 1000]
 *
 * 1. log publish: `events` records (200-byte values, 1 000 keys, 8 partitions), `concurrency`
 *    callers each awaiting one single-record publish at a time, so group commit does the batching.
 * 2. log consume: one group member reading everything back, committing after each batch.
 * 3. store transactions: `events` transactions, each an outbox append plus an inbox mark,
 *    `concurrency` in flight.
 *
 * Prints one JSON line, then a table. CPU µs per operation (user + system, whole process, so
 * including the fsync and checkpoint threads) is the steadier figure on a shared machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { uuidv7, type Subscription } from '@herald/core';
import { sqliteLog, sqliteStores } from '@herald/sqlite';

const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, concurrency: { type: 'string', default: '1000' } } });
const events = Number(values.events);
const concurrency = Number(values.concurrency);
const dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-bench-'));
const payload = 'x'.repeat(200);

/** Runs `count` jobs with `concurrency` workers; returns seconds elapsed and CPU µs per job (this thread's process). */
async function timed(count: number, job: (i: number) => Promise<unknown>): Promise<{ seconds: number; cpuMicros: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await job(next++);
  }));
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuMicros: Math.round(((used.user + used.system) / count) * 10) / 10 };
}

async function logBench(): Promise<{ publishPerSec: number; publishCpuMicros: number; consumePerSec: number }> {
  const log = sqliteLog({ path: join(dir, 'log.db'), topics: [{ name: 'bench', partitions: 8 }] });
  const publish = await timed(events, (i) => log.publish([{ topic: 'bench', key: `key-${i % 1000}`, value: payload }]));
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  const subscription: Subscription = await log.subscribe({ group: 'bench', topics: ['bench'], maxBatch: 1000 }, {
    async deliver(batch) {
      received += batch.deliveries.length;
      await subscription.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.deliveries.at(-1)!.offset + 1 }]);
      if (received >= events) done();
    },
    async revoked() {},
  });
  await all;
  const consumeSeconds = (performance.now() - started) / 1000;
  await log.close();
  return { publishPerSec: Math.round(events / publish.seconds), publishCpuMicros: publish.cpuMicros, consumePerSec: Math.round(events / consumeSeconds) };
}

async function storeBench(): Promise<{ transactionsPerSec: number; transactionCpuMicros: number }> {
  const stores = sqliteStores({ path: join(dir, 'store.db') });
  const run = await timed(events, (i) =>
    stores.transaction(async (tx) => {
      const id = uuidv7();
      await stores.inbox.markHandled(tx, { group: 'bench', eventId: id, handledAt: Date.now() });
      await stores.outbox.append(tx, [
        { id, topic: 'bench', key: `key-${i % 1000}`, type: 'Bench', correlationId: id, value: payload, headers: {}, createdAt: Date.now() },
      ]);
    }),
  );
  await stores.close();
  return { transactionsPerSec: Math.round(events / run.seconds), transactionCpuMicros: run.cpuMicros };
}

try {
  const log = await logBench();
  const store = await storeBench();
  const result = { events, concurrency, ...log, ...store };
  console.log(JSON.stringify(result));
  console.table({
    'log publish': { 'per second': log.publishPerSec, 'CPU µs each': log.publishCpuMicros },
    'log consume + commit': { 'per second': log.consumePerSec },
    'store tx (outbox append + inbox mark)': { 'per second': store.transactionsPerSec, 'CPU µs each': store.transactionCpuMicros },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
