import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { CoreErrors, defineEvent, type EventDefinition } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { MAX_WINDOWS_PER_RECORD, SessionWindows, StreamErrorCodes, TimeWindows, createTopology, defineLateEvent, streamTest } from '../src/index.js';

// The stateless steps, re-keying through a repartition topic, and what the builder refuses.

const View = defineEvent({ type: 'View', topic: 'views', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), page: Type.String(), at: Type.Integer() }) });
const PageViews = defineEvent({ type: 'PageViews', topic: 'page-views', key: (d) => d.page, schema: Type.Object({ page: Type.String(), start: Type.Integer(), views: Type.Integer() }) });
const Seen = defineEvent({ type: 'Seen', topic: 'seen', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), page: Type.String() }) });
const LateViews = defineLateEvent({ type: 'ViewLate', topic: 'views-late', value: View.schema });

const view = (userId: string, page: string, at: number) => ({ userId, page, at });

function pageViews() {
  const topology = createTopology<MemoryTx>({ name: 'pages' });
  const views = topology.from(View, { timestamp: (e) => e.data.at }).filter((r) => r.value.page !== '/health');
  views.map((r) => ({ userId: r.key, page: r.value.page })).to(Seen);
  views
    .groupBy((r) => r.value.page, { name: 'by-page', partitions: 2 })
    .windowedBy(TimeWindows.ofSizeWithNoGrace(60_000))
    .count('views-1m', { late: { to: LateViews } })
    .to(PageViews, (r) => ({ page: r.key, start: r.value.start, views: r.value.value }));
  return topology;
}

describe('a topology', () => {
  it('filters, maps to a sink, and re-keys through its repartition topic so that each new key is counted in one place', async () => {
    const topology = pageViews();
    expect(topology.topics).toEqual([{ name: 'pages-by-page-repartition', partitions: 2 }]);
    expect(topology.groups).toEqual(['pages', 'pages-by-page']);
    const t = streamTest(topology, { stores: memoryStores(), partitions: { views: 3, 'pages-by-page-repartition': 2 } });
    // event time from the timestamp extractor, not from occurredAt
    await t.when(View, [view('u-1', '/a', 1_000), view('u-2', '/a', 2_000), view('u-3', '/b', 3_000), view('u-4', '/health', 4_000), view('u-5', '/a', 59_999)], { at: 999_999 });
    expect(t.published(Seen).sort((a, b) => a.userId.localeCompare(b.userId))).toEqual([
      { userId: 'u-1', page: '/a' },
      { userId: 'u-2', page: '/a' },
      { userId: 'u-3', page: '/b' },
      { userId: 'u-5', page: '/a' },
    ]);
    t.thenPublished(PageViews, []);
    await t.when(View, [view('u-6', '/a', 60_000), view('u-7', '/b', 60_000)]);
    expect(t.published(PageViews).sort((a, b) => a.page.localeCompare(b.page))).toEqual([
      { page: '/a', start: 0, views: 3 },
      { page: '/b', start: 0, views: 1 },
    ]);
  });

  it('refuses an event without a valid event time and a groupBy key that is not a non-empty string, with their codes', async () => {
    const t = streamTest(pageViews(), { stores: memoryStores() });
    await expect(t.when(View, [view('u-1', '/a', -1)])).rejects.toMatchObject({ code: StreamErrorCodes.invalidEventTime });
    const topology = createTopology<MemoryTx>({ name: 'keys' });
    topology
      .from(View)
      .groupBy(() => '', { name: 'nothing' })
      .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
      .count('n', { late: { handler: async () => {} } });
    await expect(streamTest(topology, { stores: memoryStores() }).when(View, [view('u-1', '/a', 1)])).rejects.toMatchObject({ code: StreamErrorCodes.invalidKey });
  });

  it('refuses an event time further ahead of the clock than maxFutureSkewMs with invalid-event-time, and leaves stream time where it was', async () => {
    const now = 1_765_000_000_000;
    const topology = createTopology<MemoryTx>({ name: 'skew' });
    topology
      .from(View, { timestamp: (e) => e.data.at, maxFutureSkewMs: 60_000 })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
      .count('n', { late: { handler: async () => {} } })
      .to(PageViews, (r) => ({ page: r.key, start: r.value.start, views: r.value.value }));
    const t = streamTest(topology, { stores: memoryStores(), clockStartMs: now });
    await t.given(View, [view('u-1', '/a', now), view('u-1', '/a', now + 60_000)]); // at the bound: taken
    // microseconds taken for milliseconds: would close every window of the partition and make all later records late
    await expect(t.when(View, [view('u-1', '/a', now * 1_000)])).rejects.toMatchObject({ code: StreamErrorCodes.invalidEventTime, retriable: false });
    await expect(t.when(View, [view('u-1', '/a', now + 60_001)])).rejects.toMatchObject({ code: StreamErrorCodes.invalidEventTime, message: /60001 ms ahead of the clock/ });
    expect((await t.windows('n')).partitions).toEqual([{ partition: 0, streamTime: now + 60_000, late: 0 }]);
    await t.when(View, [view('u-1', '/a', now + 50_000)]); // its window still open: counted, not late
    t.thenLate([]);
    // the clock moved on: what was too far ahead is taken now
    await t.clock.advance(1);
    await t.when(View, [view('u-1', '/a', now + 60_001)]);
    expect((await t.windows('n')).partitions).toEqual([{ partition: 0, streamTime: now + 60_001, late: 0 }]);
    expect(() => createTopology({ name: 'bad' }).from(View, { maxFutureSkewMs: -1 })).toThrow(/maxFutureSkewMs/);
  });

  it('refuses topics of one aggregation with different partition counts, naming them: a key would be counted in two partitions', async () => {
    const Tap = defineEvent({ type: 'Tap', topic: 'taps', key: (d) => d.userId, schema: View.schema });
    const both = () => {
      const topology = createTopology<MemoryTx>({ name: 'both' });
      topology
        .from([View, Tap])
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeWithNoGrace(10_000))
        .count('n', { late: { handler: async () => {} } })
        .to(PageViews, (r) => ({ page: r.key, start: r.value.start, views: r.value.value }));
      return topology;
    };
    expect(() => streamTest(both(), { stores: memoryStores(), partitions: { views: 3, taps: 6 } })).toThrow(
      expect.objectContaining({ code: CoreErrors.invalidOptions.code, message: expect.stringContaining('aggregation n reads topics with different partition counts (taps: 6, views: 3)') }),
    );
    // co-partitioned, one key's records meet in one window
    const t = streamTest(both(), { stores: memoryStores(), partitions: { views: 6, taps: 6 } });
    await t.given(View, [view('u-7', '/a', 1_000), view('u-7', '/a', 1_000)], { at: 1_000 });
    await t.given(Tap, [view('u-7', '/a', 2_000)], { at: 2_000 });
    await t.when(View, [view('u-7', '/a', 30_000)], { at: 30_000 });
    t.thenPublished(PageViews, [{ page: 'u-7', start: 0, views: 3 }]);
    // a merge of two sources is checked as well
    const merged = createTopology<MemoryTx>({ name: 'merged' });
    merged.from(View).merge(merged.from(Tap)).groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(10_000)).count('n', { late: { handler: async () => {} } });
    expect(() => streamTest(merged, { stores: memoryStores(), partitions: { views: 2 } })).toThrow(/views: 2/);
  });

  it('refuses an aggregate or a re-keyed value JSON cannot carry exactly (a Set, NaN, a Date, an undefined field) with its code, and stores nothing', async () => {
    const aggregating = <A>(initial: () => A, add: (a: A, r: { value: { page: string; at: number } }) => A) => {
      const topology = createTopology<MemoryTx>({ name: 'odd' });
      topology.from(View).groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(60_000)).aggregate('odd', { initial, add, late: { to: LateViews } });
      return streamTest(topology, { stores: memoryStores() });
    };
    const cases = [
      aggregating(() => new Set<string>(), (pages, r) => pages.add(r.value.page)), // would be stored as {}
      aggregating(() => ({ views: 0, share: 0 }), (a, r) => ({ views: a.views + 1, share: r.value.at / a.views })), // 0 / 0: NaN, stored as null
      aggregating(() => ({ first: new Date(0) }), (a, r) => ({ first: new Date(Math.min(a.first.getTime(), r.value.at)) })), // stored as a string
      aggregating(() => ({ last: undefined as string | undefined }), (a) => a), // the field would vanish
    ];
    for (const t of cases) {
      await expect(t.when(View, [view('u-1', '/a', 0)])).rejects.toMatchObject({ code: StreamErrorCodes.unserialisableValue, retriable: false });
      expect(await t.windows('odd')).toEqual({ windows: [], partitions: [] });
    }
    const rekeyed = createTopology<MemoryTx>({ name: 'rekeyed' });
    rekeyed
      .from(View)
      .map((r) => new Set([r.value.page]))
      .groupBy(() => 'all', { name: 'all' })
      .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
      .count('n', { late: { handler: async () => {} } });
    await expect(streamTest(rekeyed, { stores: memoryStores() }).when(View, [view('u-1', '/a', 1)])).rejects.toMatchObject({ code: StreamErrorCodes.unserialisableValue });
  });

  it('refuses at build time what would lose records or cannot run: no late output, sessions without merge, reused names, bad windows', () => {
    const grouped = () => createTopology<MemoryTx>({ name: 't' }).from(View).groupByKey();
    expect(() => grouped().windowedBy(TimeWindows.ofSizeWithNoGrace(1_000)).count('n', {} as never)).toThrow(expect.objectContaining({ code: CoreErrors.invalidOptions.code }));
    expect(() =>
      grouped()
        .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(1_000))
        .aggregate('s', { initial: () => 0, add: (n: number) => n + 1, late: { to: LateViews } }),
    ).toThrow(/merge/);
    const topology = createTopology<MemoryTx>({ name: 't' });
    topology.from(View).groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(1_000)).count('n', { late: { to: LateViews } });
    expect(() => topology.from(View).groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(1_000)).count('n', { late: { to: LateViews } })).toThrow(/already used/);
    expect(() => TimeWindows.ofSizeAndGrace(0, 0)).toThrow(/size/);
    expect(() => TimeWindows.ofSizeAndGrace(1_000, 0).advanceBy(2_000)).toThrow(/advance/);
    expect(() => createTopology({ name: 'no spaces' })).toThrow(/name/);
    // a fraction of a ms would punctuate as often as timers can; a delay over Node's largest fires at once
    for (const [option, value] of [['punctuateIntervalMs', 0.001], ['punctuateIntervalMs', 2 ** 31], ['idleTimeoutMs', 0.5], ['idleTimeoutMs', 0], ['punctuateIntervalMs', Number.NaN]] as const) {
      expect(() => createTopology({ name: 'timing', [option]: value }), `${option}: ${value}`).toThrow(
        expect.objectContaining({ code: CoreErrors.invalidOptions.code, message: expect.stringContaining(`${option} must be a whole number of ms`) as unknown }),
      );
    }
    expect(() => createTopology({ name: 'timing', punctuateIntervalMs: 2 ** 31 - 1, idleTimeoutMs: false })).not.toThrow();
  });

  it('reads each event as the version its group reads, earlier ones upcast; two versions of one type in a group are refused', async () => {
    const ViewV2 = defineEvent({
      type: 'View',
      version: 2,
      topic: 'views',
      key: (d) => d.userId,
      schema: Type.Object({ userId: Type.String(), page: Type.String(), at: Type.Integer(), referrer: Type.String() }),
      upcast: { from: View, data: (v1) => ({ ...v1, referrer: 'unknown' }) },
    });
    const referrers = createTopology<MemoryTx>({ name: 'referrers' });
    referrers.from(ViewV2, { timestamp: (e) => e.data.at }).map((r) => ({ userId: r.key, page: `${r.value.page} from ${r.value.referrer}` })).to(Seen);
    const t = streamTest(referrers, { stores: memoryStores() });
    await t.when(View, [view('u-1', '/a', 1_000)]); // a producer not upgraded yet
    expect(t.published(Seen)).toEqual([{ userId: 'u-1', page: '/a from unknown' }]);
    await t.when(ViewV2, [{ ...view('u-2', '/b', 2_000), referrer: '/a' }]);
    expect(t.published(Seen)).toEqual([{ userId: 'u-2', page: '/b from /a' }]);
    // a version the topology does not read is refused, as its consumer dead-letters it
    const ViewV3 = defineEvent({ type: 'View', version: 3, topic: 'views', key: (d) => d.userId, schema: Type.Object({ userId: Type.String() }) });
    await expect(t.when(ViewV3, [{ userId: 'u-3' }])).rejects.toMatchObject({ code: 'unknown-event-type' });

    // one group, two sources of two versions: each event would run both, and one of them typed wrong
    for (const order of [[View, ViewV2], [ViewV2, View]] as EventDefinition[][]) {
      const both = createTopology<MemoryTx>({ name: 'both' });
      both.from(order[0]!).map((r) => ({ userId: r.key, page: 'x' })).to(Seen);
      both.from(order[1]!).map((r) => ({ userId: r.key, page: 'y' })).to(Seen);
      expect(() => both.groups).toThrow(expect.objectContaining({ code: CoreErrors.invalidOptions.code, message: expect.stringContaining('read View in two definitions (versions') }));
    }
    const listed = createTopology<MemoryTx>({ name: 'listed' });
    listed.from([View, ViewV2] as never).map(() => ({ userId: 'u', page: 'p' })).to(Seen);
    expect(() => listed.groups).toThrow(/read View in two definitions \(versions 1 and 2\)/);
  });

  it('refuses a hopping window that would put one record in more than MAX_WINDOWS_PER_RECORD windows, saying why', () => {
    expect(MAX_WINDOWS_PER_RECORD).toBe(10_000);
    // size 1 000 000 advancing by 1: a million windows written per record
    expect(() => TimeWindows.ofSizeAndGrace(1_000_000, 0).advanceBy(1)).toThrow(
      expect.objectContaining({ code: CoreErrors.invalidOptions.code, message: expect.stringMatching(/1000000 windows.*at most 10000: advance by at least 100/) }),
    );
    expect(() => TimeWindows.ofSizeAndGrace(1_000_000, 0).advanceBy(99)).toThrow(/10102 windows/);
    expect(TimeWindows.ofSizeAndGrace(1_000_000, 0).advanceBy(100).advanceMs).toBe(100);
  });
});
