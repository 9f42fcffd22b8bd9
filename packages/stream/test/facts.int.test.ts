import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { createApp, createManualClock, defineEvent, silentLogger, type App, type ManualClock, type SqlTx, type StreamFact } from '@herald/core';
import type { SqliteEngine } from '@herald/sqlite';
import { eventually } from '@herald/testing';
import { TimeWindows, createTopology, type Topology } from '../src/index.js';
import { Click, ClickCounts, LateClicks, topics } from './support.js';
import { embeddedEngines } from './embedded.js';

// The stream facts (late records, results, stream time, punctuation failures) on the embedded
// engine (a real SQLite file) and a manual clock: one per batch (or punctuation) and aggregation,
// emitted once what they tell committed, so a batch rolled back and run again counts once.

const IDLE_MS = 1_000;
const INTERVAL_MS = 100;

const engines = embeddedEngines('herald-stream-facts-');

/**
 * An app on a new SQLite directory (one partition per topic) running `topology`, recording the
 * stream facts it emits; `publish` runs before it starts, so its events are read in one batch.
 */
async function started(
  clock: ManualClock,
  topology: Topology<SqlTx>,
  publish: (app: App<SqlTx>) => Promise<void>,
  wrap: (stores: SqliteEngine['stores']) => SqliteEngine['stores'] = (stores) => stores,
) {
  const engine = engines.open();
  await engine.broker.ensureTopics([...topics(1), { name: Pulse.topic, partitions: 1 }]);
  const app = createApp<SqlTx>({ name: 'stream-facts', broker: engine.broker, stores: wrap(engine.stores), topics: topics(1), clock, logger: silentLogger, relay: false });
  engines.track(app);
  topology.install(app);
  const facts: StreamFact[] = [];
  let applied = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.outcome === 'applied') applied++;
    if (fact.kind === 'records-late' || fact.kind === 'window-results' || fact.kind === 'stream-time' || fact.kind === 'punctuation-failed') facts.push(fact);
  });
  await publish(app);
  await app.start();
  await app.ready();
  return { app, facts, applied: () => applied, of: <K extends StreamFact['kind']>(kind: K) => facts.filter((f): f is Extract<StreamFact, { kind: K }> => f.kind === kind) };
}

/** u-1 twice in [0, 10 000), u-2 at 20 000 (stream time closes u-1's window), u-1 late at 2 000, u-3 at 20 500: one batch. */
async function publishClicks(app: App<SqlTx>): Promise<void> {
  const clicks = [
    { userId: 'u-1', at: 1_000 },
    { userId: 'u-1', at: 1_500 },
    { userId: 'u-2', at: 20_000 },
    { userId: 'u-1', at: 2_000 },
    { userId: 'u-3', at: 20_500 },
  ];
  for (const [seq, c] of clicks.entries()) await app.publishDirect(Click, { userId: c.userId, seq }, { occurredAt: new Date(c.at) });
}

const countPerUser = (topology: Topology<SqlTx>, name: string, clicks = topology.from(Click)) =>
  clicks
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(10_000, 3_000))
    .count(name, { late: { to: LateClicks } });

/** Moves the manual clock on one punctuation interval at a time until `probe` answers. */
const advanceUntil = <T>(clock: ManualClock, probe: () => T | undefined, what: string): Promise<T> =>
  eventually(
    async () => {
      const value = probe();
      if (value === undefined) await clock.advance(INTERVAL_MS);
      return value;
    },
    20_000,
    what,
    5,
  );

const publishPulse = async (app: App<SqlTx>) => void (await app.publishDirect(Pulse, { source: 's-1' }, { occurredAt: new Date(1_000) }));

/** An event only the punctuation tests read: its window closes on idle only. */
const Pulse = defineEvent({ type: 'Pulse', topic: 'pulses', key: (d) => d.source, schema: Type.Object({ source: Type.String() }) });
/** An output whose schema a window result never matches (`clicks` must be a string). */
const BadCounts = defineEvent({ type: 'BadCounts', topic: 'bad-counts', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), clicks: Type.String() }) });

describe('stream facts', () => {
  it('reports a batch once it committed: its late records, its results and the stream time, per aggregation, not per record', async () => {
    const clock = createManualClock(0);
    const topology = createTopology<SqlTx>({ name: 'clicks', idleTimeoutMs: false });
    countPerUser(topology, 'per-user').to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, clicks: r.value.value }));
    const t = await started(clock, topology, publishClicks);
    await eventually(() => (t.applied() === 5 ? true : undefined), 20_000, 'the clicks to be counted', 5);

    expect(t.facts).toEqual([
      { kind: 'records-late', group: 'clicks', aggregation: 'per-user', topic: Click.topic, partition: 0, count: 1 },
      { kind: 'window-results', group: 'clicks', aggregation: 'per-user', partition: 0, count: 1 },
      { kind: 'stream-time', group: 'clicks', aggregation: 'per-user', partition: 0, streamTime: 20_500 },
    ]);
  });

  it('counts a batch rolled back and run again one event at a time once: only what committed is reported', async () => {
    const clock = createManualClock(0);
    const topology = createTopology<SqlTx>({ name: 'clicks', idleTimeoutMs: false });
    countPerUser(topology, 'per-user').to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, clicks: r.value.value }));
    // a second aggregation, after the first in the batch, whose first result's handler fails once:
    // the whole batch rolls back after the first aggregation sent its late record and its result
    let failures = 1;
    countPerUser(topology, 'per-user-again').forEach(async () => {
      if (failures-- > 0) throw new Error('downstream busy');
    });
    const t = await started(clock, topology, publishClicks);
    await eventually(() => (t.applied() === 5 ? true : undefined), 20_000, 'the clicks to be counted, one by one', 5);

    expect(failures).toBeLessThan(0);
    for (const aggregation of ['per-user', 'per-user-again']) {
      const sum = (kind: 'records-late' | 'window-results') => t.of(kind).filter((f) => f.aggregation === aggregation).reduce((n, f) => n + f.count, 0);
      expect({ aggregation, late: sum('records-late'), results: sum('window-results') }).toEqual({ aggregation, late: 1, results: 1 });
      // one event a transaction now: one stream time per event, the last one where the stream stands
      const times = t.of('stream-time').filter((f) => f.aggregation === aggregation).map((f) => f.streamTime);
      expect({ aggregation, times }).toEqual({ aggregation, times: [1_000, 1_500, 20_000, 20_000, 20_500] });
    }
  });

  it('counts a batch whose commit fails after its handler returned once: reported by the runs that commit', async () => {
    const clock = createManualClock(0);
    const topology = createTopology<SqlTx>({ name: 'clicks', idleTimeoutMs: false });
    const clicks = topology.from(Click);
    let sawLast = false;
    clicks.forEach(async (r) => void (sawLast ||= r.value.seq === 4));
    countPerUser(topology, 'per-user', clicks).to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, clicks: r.value.value }));
    // the first transaction that handled the last click fails at its end, as a commit refused
    // (a serialization failure, a connection lost): the batch then goes one event at a time
    let commitFailures = 0;
    const failingCommit = (stores: SqliteEngine['stores']): SqliteEngine['stores'] =>
      Object.create(stores, {
        transaction: {
          value: <T>(work: (tx: SqlTx) => Promise<T>) =>
            stores.transaction(async (tx) => {
              sawLast = false;
              const result = await work(tx);
              if (sawLast && commitFailures++ === 0) throw new Error('commit failed');
              return result;
            }),
        },
      }) as SqliteEngine['stores'];
    const t = await started(clock, topology, publishClicks, failingCommit);
    await eventually(() => (t.applied() === 5 ? true : undefined), 20_000, 'the clicks to be counted, one by one', 5);

    expect(commitFailures).toBe(2);
    const sum = (kind: 'records-late' | 'window-results') => t.of(kind).reduce((n, f) => n + f.count, 0);
    expect({ late: sum('records-late'), results: sum('window-results') }).toEqual({ late: 1, results: 1 });
    expect(t.of('stream-time').map((f) => f.streamTime)).toEqual([1_000, 1_500, 20_000, 20_000, 20_500]);
  });

  it('reports an idle partition punctuated: the results it emitted and the stream time it moved to', async () => {
    const clock = createManualClock(0);
    const topology = createTopology<SqlTx>({ name: 'pulses', idleTimeoutMs: IDLE_MS, punctuateIntervalMs: INTERVAL_MS });
    topology
      .from(Pulse)
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
      .count('per-source', { late: { handler: async () => {} } })
      .forEach(async () => {});
    const t = await started(clock, topology, publishPulse);
    await eventually(() => (t.applied() === 1 ? true : undefined), 20_000, 'the pulse to be counted', 5);
    await advanceUntil(clock, () => (t.of('window-results').length > 0 ? true : undefined), 'the idle window to close');

    expect(t.of('window-results')).toEqual([{ kind: 'window-results', group: 'pulses', aggregation: 'per-source', partition: 0, count: 1 }]);
    const [first, ...punctuated] = t.of('stream-time').map((f) => f.streamTime);
    expect(first).toBe(1_000);
    expect(punctuated.at(-1)).toBeGreaterThanOrEqual(2_000);
    expect(t.of('punctuation-failed')).toEqual([]);
  });

  it('reports each failed punctuation with its error code: a forEach on the results that hangs past the deadline fails at every tick', async () => {
    const clock = createManualClock(0);
    const topology = createTopology<SqlTx>({ name: 'pulses', idleTimeoutMs: IDLE_MS, punctuateIntervalMs: INTERVAL_MS, handler: { timeoutMs: 300 } });
    topology
      .from(Pulse)
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
      .count('per-source', { late: { handler: async () => {} } })
      .forEach(() => new Promise<void>(() => {})); // never settles, ignores its signal
    const t = await started(clock, topology, publishPulse);
    await eventually(() => (t.applied() === 1 ? true : undefined), 20_000, 'the pulse to be counted', 5);
    await advanceUntil(clock, () => (t.of('punctuation-failed').length >= 3 ? true : undefined), 'three punctuations to fail');

    const failed = t.of('punctuation-failed');
    expect(failed.map(({ group, partition, reason }) => ({ group, partition, reason }))).toEqual(failed.map(() => ({ group: 'pulses', partition: 0, reason: 'timeout' })));
    // nothing of the failed punctuations is reported as done: the stream time stays at the pulse's
    expect(t.of('window-results')).toEqual([]);
    expect(t.of('stream-time').map((f) => f.streamTime)).toEqual([1_000]);
    expect(await t.app.stores.deadLetters.list()).toEqual([]);
  });

  it('does not fail the punctuation for a window result its output refuses: the result is dead-lettered, not counted as emitted', async () => {
    const clock = createManualClock(0);
    const topology = createTopology<SqlTx>({ name: 'pulses', idleTimeoutMs: IDLE_MS, punctuateIntervalMs: INTERVAL_MS });
    topology
      .from(Pulse)
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
      .count('per-source', { late: { handler: async () => {} } })
      .to(BadCounts, (r) => ({ userId: r.key, clicks: r.value.value as unknown as string }));
    const t = await started(clock, topology, publishPulse);
    await eventually(() => (t.applied() === 1 ? true : undefined), 20_000, 'the pulse to be counted', 5);
    await advanceUntil(clock, () => (t.of('stream-time').length >= 2 ? true : undefined), 'the punctuation to commit');

    const letters = await t.app.stores.deadLetters.list({ group: 'pulses' });
    expect(letters.map((l) => [l.handler, l.reason])).toEqual([['pulses:stream', 'schema-violation']]);
    expect(letters[0]!.error.message).toContain('BadCounts');
    expect(t.of('punctuation-failed')).toEqual([]);
    expect(t.of('window-results')).toEqual([]);
    expect(t.of('stream-time')[1]!.streamTime).toBeGreaterThanOrEqual(2_000);
  });
});
