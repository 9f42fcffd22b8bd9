import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { CoreErrors, defineEvent } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { SessionWindows, StreamErrorCodes, TimeWindows, createTopology, defineLateEvent, streamTest } from '../src/index.js';

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
  });
});
