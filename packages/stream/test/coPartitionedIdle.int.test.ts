import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, silentLogger, type App, type SqlTx } from '@herald/core';
import { sqliteEngine, type SqliteEngine } from '@herald/sqlite';
import { TimeWindows, createTopology } from '../src/index.js';
import { Click, Counts, Late, TOPICS, View } from './fixtures/activity.js';
import { readTopic, waitFor } from './support.js';

// Two members of one group on the embedded engine (one SQLite file): the group reads two
// co-partitioned topics of one partition each, and the log deals `clicks` 0 to one member and
// `views` 0 to the other. Views go quiet while clicks, stamped with the wall clock, keep coming:
// the views member's punctuator must not move the shared stream time ahead of the wall clock.


const SIZE_MS = 3_000;
const IDLE_MS = 1_500;

let dataDir: string | undefined;
afterEach(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

async function member(dir: string): Promise<{ engine: SqliteEngine; app: App<SqlTx>; held: Set<string> }> {
  const engine = sqliteEngine({ dataDir: dir, log: { heartbeatMs: 100, sessionTimeoutMs: 1_000 } });
  await engine.broker.ensureTopics(TOPICS);
  const app = createApp<SqlTx>({ name: 'copartitioned', broker: engine.broker, stores: engine.stores, topics: TOPICS, logger: silentLogger });
  const topology = createTopology<SqlTx>({ name: 'activity', idleTimeoutMs: IDLE_MS, punctuateIntervalMs: 50 });
  topology
    .from([View, Click])
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(SIZE_MS))
    .count('per-user', { late: { to: Late } })
    .to(Counts, (r) => ({ userId: r.key, start: r.value.start, n: r.value.value }));
  topology.install(app);
  const held = new Set<string>(); // the topics whose partition 0 this member holds
  app.instrumentation.on((fact) => {
    if (fact.kind === 'assigned' && fact.group === 'activity') for (const tp of fact.partitions) held.add(tp.topic);
    if (fact.kind === 'revoked' && fact.group === 'activity') for (const tp of fact.partitions) held.delete(tp.topic);
  });
  return { engine, app, held };
}

describe('idle punctuation with co-partitioned topics held by different members', () => {
  it('keeps on-time records of the busy topic on time while the other topic is quiet, and closes every window once both are', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-copart-'));
    const a = await member(dataDir);
    const b = await member(dataDir);
    try {
      await a.app.start();
      await b.app.start();
      const split = () => a.held.size === 1 && b.held.size === 1 && [...a.held, ...b.held].sort().join() === 'clicks,views';
      await waitFor(split, 30_000, 'views and clicks to be held by different members');

      const sent: { seq: number; at: number }[] = [];
      const send = async (definition: typeof View | typeof Click, seq: number) => {
        const at = Date.now();
        sent.push({ seq, at });
        await a.app.publishDirect(definition, { userId: 'u', seq }, { occurredAt: new Date(at) });
      };
      await send(View, 0); // views then stay quiet
      // clicks every 50 ms for longer than the idle timeout plus a window
      for (let seq = 1; seq <= 90; seq++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await send(Click, seq);
      }
      const want = new Map<number, number>();
      for (const { at } of sent) want.set(Math.floor(at / SIZE_MS) * SIZE_MS, (want.get(Math.floor(at / SIZE_MS) * SIZE_MS) ?? 0) + 1);
      const counts = async () => (await readTopic(a.engine.broker, Counts.topic, 1)).map((e) => e.data as { start: number; n: number });
      await waitFor(async () => (await counts()).length >= want.size, 30_000, 'every window to close');

      expect(await readTopic(a.engine.broker, Late.topic, 1)).toEqual([]);
      expect(new Map((await counts()).map((c) => [c.start, c.n]))).toEqual(want);
      // stream time moved on with the wall clock from the last record, never past it
      const state = await a.engine.stores.windows.read('activity.per-user');
      expect(state.partitions).toHaveLength(1);
      expect(state.partitions[0]!.streamTime!).toBeGreaterThanOrEqual(sent.at(-1)!.at + IDLE_MS);
      expect(state.partitions[0]!.streamTime!).toBeLessThanOrEqual(Date.now());
    } finally {
      await a.app.close();
      await b.app.close();
    }
  }, 60_000);
});
