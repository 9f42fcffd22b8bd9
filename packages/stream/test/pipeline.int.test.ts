import { afterEach, describe, expect, it } from 'vitest';
import { CoreErrors, createApp, createManualClock, defineEvent, encodeEnvelopeValue, silentLogger, uuidv7, type App, type DeadLetter, type Envelope, type ManualClock } from '@herald/core';
import { eventually, memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';
import { StreamErrorCodes, TimeWindows, createTopology } from '../src/index.js';
import { Click, LateClicks, clickTopology, flushUser } from './support.js';

// A topology on an app's pipeline, on the in-memory engine: what the dead letters and redrives of
// the app do to its window state.

const PARTITIONS = 2;
const IDLE_MS = 10_000;

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** A member of the topology's group on the shared broker and stores, on its own manual clock; `owned` follows its partitions of `clicks`. */
function member(broker: ReturnType<typeof memoryBroker>, stores: MemoryStores, clock: ManualClock) {
  const app = createApp<MemoryTx>({ broker: broker.connect(), stores, clock, logger: silentLogger, relay: false });
  clickTopology<MemoryTx>({ idleTimeoutMs: IDLE_MS, punctuateIntervalMs: 1_000 }).install(app);
  apps.push(app);
  const owned = new Set<number>();
  app.instrumentation.on((fact) => {
    if (fact.kind === 'assigned') for (const tp of fact.partitions) if (tp.topic === Click.topic) owned.add(tp.partition);
    if (fact.kind === 'revoked') for (const tp of fact.partitions) if (tp.topic === Click.topic) owned.delete(tp.partition);
  });
  return { app, owned };
}

/** A dead letter of the topology's handler: a click of `userId` at `at` on `partition` of `clicks`. */
function letter(userId: string, partition: number, at: number): DeadLetter {
  const id = uuidv7(at);
  const envelope: Envelope = { id, type: Click.type, version: Click.version, topic: Click.topic, key: userId, correlationId: id, causationId: null, occurredAt: new Date(at).toISOString(), headers: {}, data: { userId, seq: 1 } };
  return {
    id: uuidv7(at),
    group: 'clicks',
    handler: 'clicks:stream',
    eventId: id,
    eventType: Click.type,
    topic: Click.topic,
    partition,
    offset: 0,
    key: userId,
    reason: 'handler-failed',
    fingerprint: 'test',
    error: { name: 'Error', message: 'downstream unavailable' },
    attempts: 1,
    firstFailureAt: at,
    lastFailureAt: at,
    envelope: encodeEnvelopeValue(envelope),
    headers: {},
    policy: 'skip',
    status: 'dead',
  };
}

describe('a topology on the pipeline', () => {
  it('dead-letters an aggregate JSON cannot carry exactly (a Set) with its code, and stores nothing', async () => {
    const stores = memoryStores();
    const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: PARTITIONS }), stores, logger: silentLogger, relay: false });
    apps.push(app);
    const topology = createTopology<MemoryTx>({ name: 'sets' });
    topology
      .from(Click)
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithNoGrace(60_000))
      .aggregate('seqs', { initial: () => new Set<number>(), add: (seqs, r) => seqs.add(r.value.seq), late: { to: LateClicks } });
    topology.install(app);
    await app.start();
    await app.publishDirect(Click, { userId: 'u-1', seq: 1 }, { occurredAt: new Date(1_000) });
    const [letter] = await eventually(async () => ((await app.deadLetters()).length === 1 ? app.deadLetters() : undefined), 10_000, 'a dead letter');
    expect(letter).toMatchObject({ reason: StreamErrorCodes.unserialisableValue, key: 'u-1', attempts: 1 });
    expect(await stores.windows.read('sets.seqs')).toEqual({ windows: [], partitions: [] });
  });

  it('dead-letters an event further ahead of the clock than maxFutureSkewMs with invalid-event-time, counts it in no window, and counts the others', async () => {
    const now = 1_765_000_000_000;
    const stores = memoryStores();
    const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 1 }), stores, clock: createManualClock(now), logger: silentLogger, relay: false });
    apps.push(app);
    const topology = createTopology<MemoryTx>({ name: 'skew' });
    topology
      .from(Click, { maxFutureSkewMs: 60_000 })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
      .count('n', { late: { to: LateClicks } });
    topology.install(app);
    await app.start();
    await app.publishDirect.many(Click, [{ userId: 'u-1', seq: 1 }, { userId: 'u-1', seq: 2 }, { userId: 'u-1', seq: 3 }], { occurredAt: new Date(now) });
    await app.publishDirect(Click, { userId: 'u-1', seq: 4 }, { occurredAt: new Date(now * 1_000) }); // microseconds
    await app.publishDirect(Click, { userId: 'u-1', seq: 5 }, { occurredAt: new Date(now + 1_000) });
    const [letter] = await eventually(async () => ((await app.deadLetters()).length === 1 ? app.deadLetters() : undefined), 10_000, 'a dead letter');
    expect(letter).toMatchObject({ reason: StreamErrorCodes.invalidEventTime, key: 'u-1' });
    await eventually(async () => ((await stores.windows.read('skew.n')).windows[0]?.value === '4' ? true : undefined), 10_000, 'the other four counted');
    // stream time stayed with the valid records: nothing closed early, nothing late
    expect((await stores.windows.read('skew.n')).partitions).toEqual([{ partition: 0, streamTime: now + 1_000, late: 0 }]);
  });

  it('refuses to start, before its groups read anything, when an aggregation reads topics with different partition counts', async () => {
    const Tap = defineEvent({ type: 'Tap', topic: 'taps', key: (d) => d.userId, schema: Click.schema });
    const both = (counts: { clicks: number; taps: number }) => {
      const app = createApp<MemoryTx>({
        broker: memoryBroker({ partitions: 1 }),
        stores: memoryStores(),
        logger: silentLogger,
        relay: false,
        topics: [{ name: 'clicks', partitions: counts.clicks }, { name: 'taps', partitions: counts.taps }],
      });
      apps.push(app);
      const topology = createTopology<MemoryTx>({ name: 'both' });
      topology.from([Click, Tap]).groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(10_000)).count('n', { late: { to: LateClicks } });
      topology.install(app);
      return app;
    };
    const mismatched = both({ clicks: 3, taps: 6 });
    const assigned: string[] = [];
    mismatched.instrumentation.on((fact) => void (fact.kind === 'assigned' && assigned.push(fact.group)));
    await expect(mismatched.start()).rejects.toMatchObject({
      code: CoreErrors.invalidOptions.code,
      message: expect.stringContaining('topology both: aggregation n reads topics with different partition counts (clicks: 3, taps: 6)'),
    });
    expect(assigned).toEqual([]);
    const matched = both({ clicks: 3, taps: 3 });
    await matched.start();
    await matched.ready();
  });

  it('applies a letter redriven on a member that does not hold its partition, but leaves that partition’s idle punctuation to its owner', async () => {
    // a redrive runs the batch handler for the letter's original partition on whichever member it is called
    const broker = memoryBroker({ partitions: PARTITIONS });
    const stores = memoryStores();
    const owner = member(broker, stores, createManualClock(0)); // its clock stays put: it never punctuates
    const otherClock = createManualClock(0);
    const other = member(broker, stores, otherClock);
    await owner.app.start();
    await other.app.start();
    await eventually(() => (owner.owned.size === 1 && other.owned.size === 1) || undefined, 10_000, 'the two members to share the partitions');
    const foreign = [...owner.owned][0]!;
    const own = [...other.owned][0]!;
    await stores.deadLetters.add(letter(flushUser(foreign, PARTITIONS), foreign, 5_000));
    await stores.deadLetters.add(letter(flushUser(own, PARTITIONS), own, 5_000));

    expect(await other.app.redrive({ group: 'clicks' })).toEqual({ redriven: 2, failed: 0, stillParked: 0 });
    const streamTimes = async () => new Map((await stores.windows.read('clicks.per-user')).partitions.map((p) => [p.partition, p.streamTime]));
    expect(await streamTimes()).toEqual(new Map([[foreign, 5_000], [own, 5_000]]));

    for (let s = 0; s < 15; s++) {
      await otherClock.advance(1_000);
      await new Promise((resolve) => setImmediate(resolve)); // let the punctuation the tick started commit
    }
    const after = await streamTimes();
    // its own partition, idle since the redrive, moved on with the wall clock; the owner's did not
    expect(after.get(own)).toBeGreaterThan(5_000);
    expect(after.get(foreign)).toBe(5_000);
  });
});
