import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { TimeWindows, createTopology, defineLateEvent, streamTest } from '../src/index.js';

// Idleness is per idle set: the aggregations of a group that read the same topics. Two
// aggregations of one topology that read different topics share the group (every from() of a
// topology is read by one consumer group) but nothing else: neither's records keep the other from
// going idle, and, each reading one topic (whose partition one member holds), they keep no shared
// register in the window store.

const userId = Type.Object({ userId: Type.String() });
const View = defineEvent({ type: 'View', topic: 'views', key: (d) => d.userId, schema: userId });
const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: userId });
const countsSchema = Type.Object({ userId: Type.String(), start: Type.Integer(), n: Type.Integer() });
const ViewCounts = defineEvent({ type: 'ViewCounts', topic: 'view-counts', key: (d) => d.userId, schema: countsSchema });
const ClickCounts = defineEvent({ type: 'ClickCounts', topic: 'click-counts', key: (d) => d.userId, schema: countsSchema });
const Counts = defineEvent({ type: 'Counts', topic: 'counts', key: (d) => d.userId, schema: countsSchema });
const Late = defineLateEvent({ type: 'Late', topic: 'late', value: userId });

const IDLE_MS = 30_000;
const window = TimeWindows.ofSizeWithNoGrace(60_000);

describe('idle punctuation per set of topics', () => {
  it("closes one aggregation's windows by idleness while another aggregation's topic has records, and writes no register for either", async () => {
    const stores = memoryStores();
    const written = new Set<string>();
    const update = stores.windows.update.bind(stores.windows);
    stores.windows.update = (tx, partition, keys, change) => {
      written.add(partition.store);
      return update(tx, partition, keys, change);
    };
    const topology = createTopology<MemoryTx>({ name: 'site', idleTimeoutMs: IDLE_MS });
    const toCounts = (r: { key: string; value: { start: number; value: number } }) => ({ userId: r.key, start: r.value.start, n: r.value.value });
    topology.from(View).groupByKey().windowedBy(window).count('views', { late: { to: Late } }).to(ViewCounts, toCounts);
    topology.from(Click).groupByKey().windowedBy(window).count('clicks', { late: { to: Late } }).to(ClickCounts, toCounts);
    const t = streamTest(topology, { stores });

    await t.given(View, [{ userId: 'u' }], { at: 0 }); // views then stay quiet
    const viewCounts: unknown[] = [];
    // a click every 5 s of wall clock, stamped with it, keeps partition 0 of clicks busy
    for (let wall = 5_000; wall <= 40_000; wall += 5_000) {
      await t.whenIdleFor(5_000);
      viewCounts.push(...t.published(ViewCounts));
      await t.when(Click, [{ userId: 'u' }], { at: wall });
    }
    // views went idle at wall time 30 000: since then their stream time follows the wall clock (their window closes at 60 000)
    expect((await t.windows('views')).partitions).toEqual([{ partition: 0, streamTime: 40_000, late: 0 }]);
    await t.whenIdleFor(20_000);
    viewCounts.push(...t.published(ViewCounts));
    expect(viewCounts).toEqual([{ userId: 'u', start: 0, n: 1 }]);
    // clicks, quiet only since 40 000, keep their window
    expect(t.published(ClickCounts)).toEqual([]);
    expect((await t.windows('clicks')).partitions).toEqual([{ partition: 0, streamTime: 40_000, late: 0 }]);
    expect([...written].sort()).toEqual(['site.clicks', 'site.views']);
  });

  it('moves shared stream time ahead of the wall clock by no more than the lead of the fastest clock, however often the members take turns', async () => {
    const LEAD_MS = 3_000;
    const stores = memoryStores();
    const member = (clockStartMs: number) => {
      const topology = createTopology<MemoryTx>({ name: 'activity', idleTimeoutMs: IDLE_MS });
      topology
        .from([View, Click] as never)
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(600_000, 0))
        .count('per-user', { late: { to: Late } })
        .to(Counts, (r) => ({ userId: r.key, start: r.value.start, n: r.value.value }));
      return streamTest(topology, { stores, clockStartMs });
    };
    // partition 0 of views is held by a member whose clock runs LEAD_MS ahead, that of clicks by one on time
    const views = member(LEAD_MS);
    const clicks = member(0);
    await views.given(View, [{ userId: 'u' }], { at: 0 });
    await views.givenIdleFor(10_000);
    await clicks.givenIdleFor(10_000);
    await clicks.given(Click, [{ userId: 'u' }], { at: 10_000 }); // the last record, at 10 000 on time
    // 60 s of wall time, both punctuating every 5 s: twelve turns each
    for (let i = 0; i < 12; i++) {
      await clicks.givenIdleFor(5_000);
      await views.givenIdleFor(5_000);
    }
    // 10 000 + 60 000 elapsed, plus the lead once (not once per turn)
    expect((await clicks.windows('per-user')).partitions).toEqual([{ partition: 0, streamTime: 10_000 + 60_000 + LEAD_MS, late: 0 }]);
  });
});
