import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';
import { TimeWindows, createTopology, defineLateEvent, streamTest } from '../src/index.js';

// A punctuation decides how far to move stream time only once it holds the locks a batch of the
// partition takes, so a batch that commits between the punctuator's tick and its punctuation is
// seen: the idle advance is never added on top of that batch's records. And the target of a
// single-topic set is absolute (the stream time when the idle period began plus the wall time
// since), so a punctuation that committed though its commit was reported failed is not repeated.

const userId = Type.Object({ userId: Type.String() });
const View = defineEvent({ type: 'View', topic: 'views', key: (d) => d.userId, schema: userId });
const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: userId });
const Counts = defineEvent({ type: 'Counts', topic: 'counts', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), start: Type.Integer(), n: Type.Integer() }) });
const Late = defineLateEvent({ type: 'Late', topic: 'late', value: userId });

const IDLE_MS = 30_000;

function topology(sources: 'clicks' | 'views+clicks') {
  const t = createTopology<MemoryTx>({ name: 'site', idleTimeoutMs: IDLE_MS });
  t.from((sources === 'clicks' ? Click : [View, Click]) as never)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
    .count('per-user', { late: { to: Late } })
    .to(Counts, (r) => ({ userId: r.key, start: r.value.start, n: r.value.value }));
  return t;
}

/** Runs `between` once, when the next transaction first updates window state, before that update takes its lock. */
function beforeNextWindowUpdate(stores: MemoryStores, between: () => Promise<void>): void {
  const update = stores.windows.update.bind(stores.windows);
  let armed = true;
  stores.windows.update = async (tx, partition, keys, change) => {
    if (armed) {
      armed = false;
      await between();
    }
    return update(tx, partition, keys, change);
  };
}

const streamTimeOf = async (t: { windows(a: string): Promise<{ partitions: readonly { streamTime: number | undefined }[] }> }) =>
  (await t.windows('per-user')).partitions.map((p) => p.streamTime);

describe('idle punctuation racing a batch', () => {
  it('leaves a single-topic partition alone when a batch of it committed after the tick found it idle', async () => {
    const stores = memoryStores();
    const t = streamTest(topology('clicks'), { stores });
    await t.given(Click, [{ userId: 'u' }], { at: 0 });
    // the tick at 30 000 finds partition 0 idle; before its punctuation takes the window lock, a click stamped 29 500 commits
    beforeNextWindowUpdate(stores, () => t.when(Click, [{ userId: 'u' }], { at: 29_500 }));
    await t.whenIdleFor(IDLE_MS);
    expect(await streamTimeOf(t)).toEqual([29_500]);
    // idle again from that batch on: the wall time since it, on top of its stream time
    await t.whenIdleFor(IDLE_MS);
    expect(await streamTimeOf(t)).toEqual([29_500 + IDLE_MS]);
  });

  it("leaves a shared partition number alone when another member's batch of it committed after the tick read the registers", async () => {
    const stores = memoryStores();
    const views = streamTest(topology('views+clicks'), { stores });
    const clicks = streamTest(topology('views+clicks'), { stores });
    await views.given(View, [{ userId: 'u' }], { at: 0 });
    await clicks.given(Click, [{ userId: 'u' }], { at: 0 });
    await clicks.givenIdleFor(IDLE_MS - 1); // not idle yet there
    // views' tick at 30 000 reads the last record of partition 0 at 0: idle; clicks' member commits a click (noted at 29 999, stamped 29 500) before the punctuation
    beforeNextWindowUpdate(stores, () => clicks.when(Click, [{ userId: 'u' }], { at: 29_500 }));
    await views.whenIdleFor(IDLE_MS);
    expect(await streamTimeOf(views)).toEqual([29_500]);
    expect(views.published(Counts)).toEqual([]);
    // both quiet for the idle timeout after that click: the wall time since it
    await views.whenIdleFor(IDLE_MS - 1);
    expect(await streamTimeOf(views)).toEqual([29_500 + IDLE_MS]);
  });

  it("waits for another member's batch of a shared partition number that noted a record and has not committed, then leaves stream time alone", async () => {
    const stores = memoryStores();
    const views = streamTest(topology('views+clicks'), { stores });
    const clicks = streamTest(topology('views+clicks'), { stores });
    await views.given(View, [{ userId: 'u' }], { at: 0 });
    await clicks.given(Click, [{ userId: 'u' }], { at: 0 });
    await clicks.givenIdleFor(IDLE_MS - 1);
    // clicks' batch noted its record at 29 999 and is held before its window update; then views' punctuation asks for a lock
    const update = stores.windows.update.bind(stores.windows);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const batchHeld = new Promise<void>((resolve) => (held = resolve));
    let asked!: () => void;
    const punctuationAsked = new Promise<void>((resolve) => (asked = resolve));
    let state: 'batch' | 'punctuation' | 'done' = 'batch';
    stores.windows.update = async (tx, partition, keys, change) => {
      if (state === 'batch' && partition.store === 'site.per-user') {
        state = 'punctuation';
        held();
        await released;
      } else if (state === 'punctuation') {
        state = 'done';
        asked();
      }
      return update(tx, partition, keys, change);
    };
    const batch = clicks.when(Click, [{ userId: 'u' }], { at: 29_500 });
    await batchHeld;
    const punctuation = views.whenIdleFor(IDLE_MS);
    await punctuationAsked;
    release();
    await Promise.all([batch, punctuation]);
    expect(await streamTimeOf(views)).toEqual([29_500]);
  });

  it('moves a single-topic partition to the same target again after a punctuation that committed though its commit was reported failed', async () => {
    const stores = memoryStores();
    const t = streamTest(topology('clicks'), { stores });
    await t.given(Click, [{ userId: 'u' }], { at: 1_000 });
    const transaction = stores.transaction.bind(stores);
    // the punctuation's transaction commits, but its caller is told it failed
    stores.transaction = (async (work: (tx: MemoryTx) => Promise<unknown>) => {
      await transaction(work);
      stores.transaction = transaction;
      throw new Error('commit outcome unknown');
    }) as typeof stores.transaction;
    await expect(t.whenIdleFor(IDLE_MS)).rejects.toThrow('commit outcome unknown');
    expect(await streamTimeOf(t)).toEqual([1_000 + IDLE_MS]);
    // the next tick's target is the stream time at the start of the idle period plus the wall time since
    await t.whenIdleFor(1_000);
    expect(await streamTimeOf(t)).toEqual([1_000 + IDLE_MS + 1_000]);
  });
});
