import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canResetOffsets, createApp, partitionForKey, silentLogger, type App, type SqlTx } from '@herald/core';
import { sqliteEngine, type SqliteEngine } from '@herald/sqlite';
import { Click, ClickCounts, LateClicks, clickTopology, countsOf, expected, lateOf, readTopic, waitFor, workload, topics, type SentClick } from './support.js';

const PARTITIONS = 3;

// A windowed count on the embedded engine (real SQLite files), restarted mid-way: the window state
// changes in the transaction of the inbox marks and of the published results, so a restart, and a
// replay of every event from the start, neither loses nor doubles a window's result.

let dataDir: string | undefined;
afterEach(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

/** An engine and an app on `dir`, the topics provisioned (publishing before `start()` would create them with the log's default partition count). */
async function member(
  dir: string,
  topology = clickTopology<SqlTx>(),
): Promise<{ engine: SqliteEngine; app: App<SqlTx>; outcomes: Map<string, number>; owned: Set<number> }> {
  const engine = sqliteEngine({ dataDir: dir, log: { heartbeatMs: 100, sessionTimeoutMs: 1_000 } });
  await engine.broker.ensureTopics(topics(PARTITIONS));
  const app = createApp<SqlTx>({ name: 'stream-test', broker: engine.broker, stores: engine.stores, topics: topics(PARTITIONS), logger: silentLogger });
  topology.install(app);
  const outcomes = new Map<string, number>();
  const owned = new Set<number>(); // the partitions of `clicks` this member holds
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled') outcomes.set(fact.outcome, (outcomes.get(fact.outcome) ?? 0) + 1);
    if (fact.kind === 'assigned') for (const tp of fact.partitions) if (tp.topic === Click.topic) owned.add(tp.partition);
    if (fact.kind === 'revoked') for (const tp of fact.partitions) if (tp.topic === Click.topic) owned.delete(tp.partition);
  });
  return { engine, app, outcomes, owned };
}

const publish = async (app: App<SqlTx>, clicks: readonly SentClick[]) => {
  for (const c of clicks) await app.publishDirect(Click, { userId: c.userId, seq: c.seq }, { occurredAt: new Date(c.at) });
};

describe('windowed count on the embedded engine', () => {
  it('emits each window once, on close, across a restart mid-way and a replay of every event', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-stream-'));
    const sent = workload(240, PARTITIONS);
    const want = expected(sent, PARTITIONS);
    expect(want.late.length).toBeGreaterThan(0); // the workload has late clicks...
    expect(want.counts.length).toBeGreaterThan(30); // ...and many windows

    // first life: a third of the clicks, stopped as soon as it emitted something (mid-way)
    const first = await member(dataDir);
    await publish(first.app, sent.slice(0, 80));
    await first.app.start();
    await waitFor(async () => (await readTopic(first.engine.broker, ClickCounts.topic, PARTITIONS)).length > 0, 30_000, 'a first window result');
    await first.app.close();

    // second life: the group is sent back to the first offset (every event delivered again), more
    // clicks arrive while it is down and after it started
    const second = await member(dataDir);
    if (!canResetOffsets(second.engine.broker)) throw new Error('the embedded log resets offsets');
    await second.engine.broker.resetOffsets({ group: 'clicks', topic: Click.topic, to: 'earliest' });
    await publish(second.app, sent.slice(80, 160));
    await second.app.start();
    await publish(second.app, sent.slice(160));
    const last = sent.at(-1)!.at;
    await waitFor(
      async () => {
        const state = await second.engine.stores.windows.read('clicks.per-user');
        return state.partitions.length === PARTITIONS && state.partitions.every((p) => p.streamTime === last) && (await second.engine.stores.outbox.backlog()).length === 0;
      },
      60_000,
      'every partition at the last click, everything relayed',
    );
    const state = await second.engine.stores.windows.read('clicks.per-user');
    await second.app.close();

    const reader = sqliteEngine({ dataDir });
    try {
      expect(countsOf(await readTopic(reader.broker, ClickCounts.topic, PARTITIONS))).toEqual(want.counts);
      expect(lateOf(await readTopic(reader.broker, LateClicks.topic, PARTITIONS))).toEqual(want.late);
      expect(state.partitions.reduce((sum, p) => sum + p.late, 0)).toBe(want.late.length);
      // every click applied once: what the first life applied came again and was recognised by the inbox
      const applied = first.outcomes.get('applied') ?? 0;
      expect(applied).toBeGreaterThan(0);
      expect(second.outcomes.get('duplicate')).toBe(applied);
      expect(applied + (second.outcomes.get('applied') ?? 0)).toBe(sent.length);
      // only the flush clicks' windows are left open
      expect(state.windows.map((w) => w.key).sort()).toEqual(sent.slice(-3).map((c) => c.userId).sort());
    } finally {
      await reader.close();
    }
  });

  it('closes the windows of partitions that stopped receiving records, once they are idle, on the wall clock', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-stream-'));
    const { engine, app } = await member(dataDir, clickTopology<SqlTx>({ sizeMs: 1_000, graceMs: 0, idleTimeoutMs: 300, punctuateIntervalMs: 50 }));
    try {
      // no later record will ever move these partitions' stream time past the windows' ends
      const clicks: SentClick[] = ['u-1', 'u-2', 'u-1', 'u-3', 'u-1'].map((userId, seq) => ({ userId, seq, at: 5_000 + seq * 100 }));
      await publish(app, clicks);
      await app.start();
      const counts = () => readTopic(engine.broker, ClickCounts.topic, PARTITIONS);
      await waitFor(async () => (await counts()).length >= 3, 30_000, 'the idle partitions to close their windows');
      await app.close();
      const reader = sqliteEngine({ dataDir });
      try {
        expect(countsOf(await readTopic(reader.broker, ClickCounts.topic, PARTITIONS))).toEqual(['u-1@5000=3', 'u-2@5000=1', 'u-3@5000=1']);
        const state = await reader.stores.windows.read('clicks.per-user');
        expect(state.windows).toEqual([]);
        expect(state.partitions.every((p) => p.streamTime! >= 6_000)).toBe(true);
      } finally {
        await reader.close();
      }
    } finally {
      await app.close();
    }
  });

  it('continues on the member that takes partitions over: a second member joins, then the first leaves', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-stream-'));
    const sent = workload(240, PARTITIONS);
    const want = expected(sent, PARTITIONS);
    const last = sent.at(-1)!.at;
    const a = await member(dataDir);
    const b = await member(dataDir);
    try {
      await a.app.start();
      await publish(a.app, sent.slice(0, 80));
      await waitFor(() => (a.outcomes.get('applied') ?? 0) > 0, 30_000, 'the first member to apply clicks');
      await b.app.start(); // the group rebalances: some partitions move to b with their window state
      // publish only once b holds its partitions: until then a would handle them all
      await waitFor(() => b.owned.size > 0, 30_000, 'the second member to take partitions');
      const second = sent.slice(80, 160);
      expect(second.some((c) => b.owned.has(partitionForKey(c.userId, PARTITIONS)))).toBe(true);
      await publish(b.app, second);
      await waitFor(() => (b.outcomes.get('applied') ?? 0) > 0, 30_000, 'the second member to apply clicks');
      await a.app.close(); // b takes every partition over
      await publish(b.app, sent.slice(160));
      await waitFor(
        async () => {
          const state = await b.engine.stores.windows.read('clicks.per-user');
          return state.partitions.length === PARTITIONS && state.partitions.every((p) => p.streamTime === last) && (await b.engine.stores.outbox.backlog()).length === 0;
        },
        60_000,
        'every partition at the last click, everything relayed',
      );
      expect(countsOf(await readTopic(b.engine.broker, ClickCounts.topic, PARTITIONS))).toEqual(want.counts);
      expect(lateOf(await readTopic(b.engine.broker, LateClicks.topic, PARTITIONS))).toEqual(want.late);
      expect((a.outcomes.get('applied') ?? 0) + (b.outcomes.get('applied') ?? 0)).toBe(sent.length);
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });
});
