import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { TimeWindows, createTopology, defineLateEvent, streamTest, type StreamTest } from '../src/index.js';

// An aggregation reading two co-partitioned topics keeps one stream time per partition number, but
// partition 0 of each topic may be held by a different member of the group. Two drivers over one
// store are those two members: each sees only its own topic's records and punctuates on its own.

const View = defineEvent({ type: 'View', topic: 'views', key: (d) => d.userId, schema: Type.Object({ userId: Type.String() }) });
const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: Type.Object({ userId: Type.String() }) });
const Counts = defineEvent({ type: 'Counts', topic: 'counts', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), start: Type.Integer(), n: Type.Integer() }) });
const Late = defineLateEvent({ type: 'Late', topic: 'late', value: Click.schema });

const IDLE_MS = 30_000;

/** Two members of one group over one store: views' partition 0 is `views`' member's, clicks' partition 0 the other's. */
function members(): { views: StreamTest; clicks: StreamTest } {
  const stores = memoryStores();
  const member = () => {
    const topology = createTopology<MemoryTx>({ name: 'activity', idleTimeoutMs: IDLE_MS });
    topology
      .from([View, Click] as never)
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
      .count('per-user', { late: { to: Late } })
      .to(Counts, (r) => ({ userId: r.key, start: r.value.start, n: r.value.value }));
    return streamTest(topology, { stores });
  };
  return { views: member(), clicks: member() };
}

describe('idle punctuation of an aggregation whose topics are held by different members', () => {
  it('leaves stream time alone while one topic still has records, though the other is quiet: on-time records stay on time', async () => {
    const { views, clicks } = members();
    await views.when(View, [{ userId: 'u' }], { at: 0 }); // views then stay quiet
    const late: unknown[] = [];
    const closed: unknown[] = [];
    // a click every 5 s of wall clock, stamped with it; both members' clocks and punctuators run
    for (let wall = 5_000; wall <= 55_000; wall += 5_000) {
      await clicks.whenIdleFor(5_000);
      await views.whenIdleFor(5_000);
      closed.push(...views.published(Counts), ...clicks.published(Counts));
      await clicks.when(Click, [{ userId: 'u' }], { at: wall });
      late.push(...clicks.late());
    }
    expect(late).toEqual([]);
    expect(closed).toEqual([]);
    expect((await clicks.windows('per-user')).partitions).toEqual([{ partition: 0, streamTime: 55_000, late: 0 }]);
    // once both are quiet for the idle timeout, stream time follows the wall clock from the last click
    await clicks.whenIdleFor(IDLE_MS - 1);
    await views.whenIdleFor(IDLE_MS - 1);
    expect([...clicks.published(Counts), ...views.published(Counts)]).toEqual([]);
    await clicks.whenIdleFor(1);
    await views.whenIdleFor(1);
    expect([...clicks.published(Counts), ...views.published(Counts)]).toEqual([{ userId: 'u', start: 0, n: 12 }]);
    expect((await views.windows('per-user')).partitions).toEqual([{ partition: 0, streamTime: 55_000 + IDLE_MS, late: 0 }]);
  });

  it('moves stream time on by the wall time elapsed once, however many members punctuate the partition number', async () => {
    const { views, clicks } = members();
    await views.when(View, [{ userId: 'u' }], { at: 1_000 });
    await clicks.when(Click, [{ userId: 'u' }], { at: 1_000 });
    for (let elapsed = 0; elapsed < 50_000; elapsed += 5_000) {
      await views.whenIdleFor(5_000);
      await clicks.whenIdleFor(5_000);
    }
    // both idle since wall time 0 (both clocks now at 50 000): stream time 1 000 + 50 000
    expect((await views.windows('per-user')).partitions).toEqual([{ partition: 0, streamTime: 51_000, late: 0 }]);
  });
});
