import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { createApp, createRelay, silentLogger, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { benchEvents } from '../herald.js';
import { PAYLOAD } from '../workload.js';
const N = Number(process.argv[2] ?? 50000);
const engine = sqliteEngine({ dataDir: mkdtempSync(join(tmpdir(), 'parts-')) });
const [Def] = benchEvents(1);
const app = createApp<SqlTx>({ broker: engine.broker, stores: engine.stores, logger: silentLogger, topics: [{ name: 'bench', partitions: 8 }], relay: false });
await app.start({ groups: false });
const part = process.argv[3] ?? 'relay';
const session = new Session(); session.connect();
if (part === 'producer') { await session.post('Profiler.enable'); await session.post('Profiler.start'); }
const calls = [];
for (let i = 0; i < N; i += 1000) calls.push(app.publish.many(Def!, Array.from({ length: 1000 }, (_, j) => ({ key: `k${(i + j) % 1000}`, seq: i + j, sentAt: 0, payload: PAYLOAD }))));
await Promise.all(calls);
if (part === 'relay') { await session.post('Profiler.enable'); await session.post('Profiler.start'); }
const relay = createRelay({ outbox: engine.stores.outbox, broker: engine.broker }, { batchSize: 2000 });
if (part === 'relay') await relay.drain();
const { profile } = await session.post('Profiler.stop');
mkdirSync(`/tmp/p-${part}`, { recursive: true });
writeFileSync(`/tmp/p-${part}/x.cpuprofile`, JSON.stringify(profile));
await app.close();
process.exit(0);
