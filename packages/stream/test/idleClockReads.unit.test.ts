import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { TimeWindows, createTopology, defineLateEvent, streamTest } from '../src/index.js';

// The idle clock reads, every punctuator tick, when each partition number of a shared idle set last
// had a record: stream times of its registers in the window store. It reads them with
// `windows.partitions`, never with `read`, which queries the windows too (a register has none: a
// second statement per topic and tick for nothing). Here `read` is refused, so a tick using it fails.

const View = defineEvent({ type: 'View', topic: 'views', key: (d) => d.userId, schema: Type.Object({ userId: Type.String() }) });
const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: Type.Object({ userId: Type.String() }) });
const Counts = defineEvent({ type: 'Counts', topic: 'counts', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), start: Type.Integer(), n: Type.Integer() }) });
const Late = defineLateEvent({ type: 'Late', topic: 'late', value: Click.schema });

const IDLE_MS = 30_000;

describe('the idle clock of a set whose topics are held by different members', () => {
  it('punctuates reading only the partitions of the window store, never a snapshot of its windows', async () => {
    const stores = memoryStores();
    stores.windows.read = async (store) => {
      throw new Error(`read(${store}): the idle clock loaded every open window`);
    };
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
    const [views, clicks] = [member(), member()];
    await views.when(View, [{ userId: 'u' }], { at: 0 });
    const closed: unknown[] = [];
    // clicks every 5 s keep the partition number busy, though views are quiet: nothing closes
    for (let wall = 5_000; wall <= 40_000; wall += 5_000) {
      await views.whenIdleFor(5_000);
      await clicks.whenIdleFor(5_000);
      closed.push(...views.published(Counts), ...clicks.published(Counts));
      await clicks.when(Click, [{ userId: 'u' }], { at: wall });
    }
    expect(closed).toEqual([]);
    // both quiet for the idle timeout and the window's end plus grace: the window closes by idleness
    for (let quiet = 0; quiet < IDLE_MS + 30_000; quiet += 5_000) {
      await views.whenIdleFor(5_000);
      await clicks.whenIdleFor(5_000);
      closed.push(...views.published(Counts), ...clicks.published(Counts));
    }
    expect(closed).toEqual([{ userId: 'u', start: 0, n: 9 }]);
  });
});
