import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, createRelay, silentLogger, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { benchEvents } from '../herald.js';
import { PAYLOAD } from '../workload.js';

const N = Number(process.argv[2] ?? 50000);
const dataDir = mkdtempSync(join(tmpdir(), 'parts-'));
const engine = sqliteEngine({ dataDir });
const [Def] = benchEvents(1);
import { readFileSync } from 'node:fs';
// CPU of the main thread only (ms), from /proc: the relay's and consumer's own work, not the fsync or checkpoint threads
const cpu = () => { const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const app = createApp<SqlTx>({ broker: engine.broker, stores: engine.stores, logger: silentLogger, topics: [{ name: 'bench', partitions: 8 }], relay: false, groups: { g: { maxInFlight: 20000, maxBatch: 1000, commitIntervalMs: 100 } } });
let applied = 0; let done: () => void = () => {};
app.onBatch(Def!, { group: 'g' }, async (events, ctx) => {
  const perKey = new Map<string, number>();
  for (const e of events) perKey.set(e.data.key, (perKey.get(e.data.key) ?? 0) + 1);
  const values: string[] = []; const params: unknown[] = [];
  for (const [k, n] of perKey) { values.push(`($${params.length + 1}, $${params.length + 2})`); params.push(k, n); }
  await ctx.tx.execute(`INSERT INTO bench_counters (k, n) VALUES ${values.join(', ')} ON CONFLICT (k) DO UPDATE SET n = bench_counters.n + excluded.n`, params);
  applied += events.length; if (applied >= N) done();
});
await app.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS bench_counters (k TEXT PRIMARY KEY, n BIGINT NOT NULL)'));
let c0 = cpu(); let t0 = performance.now();
const calls = [];
for (let i = 0; i < N; i += 1000) calls.push(app.publish.many(Def!, Array.from({ length: 1000 }, (_, j) => ({ key: `k${(i + j) % 1000}`, seq: i + j, sentAt: 0, payload: PAYLOAD }))));
await Promise.all(calls);
console.log(`producer: ${(N / (performance.now() - t0) * 1000).toFixed(0)}/s, ${((cpu() - c0) * 1000 / N).toFixed(1)} µs/event`);
const relay = createRelay({ outbox: engine.stores.outbox, broker: engine.broker }, { batchSize: 2000 });
c0 = cpu(); t0 = performance.now();
const n = await relay.drain();
console.log(`relay: ${n} records, ${(n / (performance.now() - t0) * 1000).toFixed(0)}/s, ${((cpu() - c0) * 1000 / n).toFixed(1)} µs/event`);
const finished = new Promise<void>((r) => (done = r));
c0 = cpu(); t0 = performance.now();
await app.start();
await finished;
console.log(`consumer: ${(N / (performance.now() - t0) * 1000).toFixed(0)}/s, ${((cpu() - c0) * 1000 / N).toFixed(1)} µs/event`);
await app.close();
process.exit(0);
