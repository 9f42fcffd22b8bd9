import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, partitionForKey, silentLogger, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { TimeWindows, createTopology } from '../src/index.js';
import { Click, LateClicks, readTopic, topics, waitFor } from './support.js';

// Re-keying on a real engine: records published to the repartition topic in the batch's
// transaction and read back by the topology's second consumer group, so each new key is counted
// in one place, once.

const GroupCounts = defineEvent({
  type: 'GroupCounts',
  topic: 'group-counts',
  key: (d) => d.group,
  schema: Type.Object({ group: Type.String(), start: Type.Integer(), clicks: Type.Integer() }),
});

let dataDir: string | undefined;
afterEach(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

describe('groupBy on the embedded engine', () => {
  it('counts each new key in one place, through the repartition topic and its consumer group', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-stream-'));
    const topology = createTopology<SqlTx>({ name: 'groups', idleTimeoutMs: 3_600_000 });
    topology
      .from(Click)
      .groupBy((r) => `g-${r.value.seq % 5}`, { name: 'by-group', partitions: 2 })
      // an hour-long window and every click in its first minute: nothing is late, whatever order
      // the source partitions' records reach the repartition topic in; each update is emitted
      .windowedBy(TimeWindows.ofSizeWithNoGrace(3_600_000))
      .count('per-group', { emit: 'update', late: { to: LateClicks } })
      .to(GroupCounts, (r) => ({ group: r.key, start: r.value.start, clicks: r.value.value }));
    expect(topology.groups).toEqual(['groups', 'groups-by-group']);
    const engine = sqliteEngine({ dataDir });
    await engine.broker.ensureTopics([...topics(3), { name: 'group-counts', partitions: 1 }]);
    const app = createApp<SqlTx>({ broker: engine.broker, stores: engine.stores, topics: [...topology.topics], logger: silentLogger });
    topology.install(app);
    try {
      await app.start();
      const clicks = Array.from({ length: 200 }, (_, seq) => ({ userId: `u-${seq % 7}`, seq }));
      for (const c of clicks) await app.publishDirect(Click, c, { occurredAt: new Date(1_000 + c.seq * 100) });
      const want = new Map<string, number>();
      for (const c of clicks) want.set(`g-${c.seq % 5}`, (want.get(`g-${c.seq % 5}`) ?? 0) + 1);
      /** The last update of each group's window: updates of one key keep their order in the output topic. */
      const latest = async () => {
        const last = new Map<string, number>();
        for (const e of await readTopic(engine.broker, GroupCounts.topic, 1)) {
          const d = e.data as { group: string; start: number; clicks: number };
          expect(d.start).toBe(0);
          expect(d.clicks).toBeGreaterThan(last.get(d.group) ?? 0); // every update a change, never back
          last.set(d.group, d.clicks);
        }
        return last;
      };
      await waitFor(
        async () => {
          const last = await latest();
          return last.size === want.size && [...last].every(([group, n]) => n === want.get(group));
        },
        60_000,
        'every group fully counted',
      );
      expect(Object.fromEntries(await latest())).toEqual(Object.fromEntries(want));
      expect(await readTopic(engine.broker, LateClicks.topic, 3)).toEqual([]);
      const state = await engine.stores.windows.read('groups.per-group');
      // the window state is kept per partition of the repartition topic, where each group's records meet
      expect(state.partitions.map((p) => p.partition)).toEqual([...new Set([...want.keys()].map((group) => partitionForKey(group, 2)))].sort());
    } finally {
      await app.close();
    }
  });
});
