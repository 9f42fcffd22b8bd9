import { describe, expect, it } from 'vitest';
import { createManualClock, silentLogger } from '@herald/core';
import type { Delivery, DeliveryBatch } from '@herald/core';
import { createPartitionFeed } from '../src/internal/partitionFeed.js';

const T = 'orders';
const p0 = { topic: T, partition: 0 };
const p1 = { topic: T, partition: 1 };
const d = (partition: number, offset: number): Delivery => ({ topic: T, partition, offset, key: `k${offset}`, value: String(offset), headers: {}, timestamp: 0 });
const range = (partition: number, from: number, to: number) => Array.from({ length: to - from }, (_, i) => d(partition, from + i));
/** Lets queued promise callbacks run (no time passes). */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A sink whose deliver calls stay pending until the test settles them, one by one. */
function heldSink() {
  const calls: { batch: DeliveryBatch; resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    calls,
    sink: {
      deliver: (batch: DeliveryBatch) => new Promise<void>((resolve, reject) => calls.push({ batch, resolve, reject })),
      revoked: async () => {},
    },
    offsets: () => calls.map((c) => c.batch.deliveries.map((x) => x.offset)),
  };
}

/** kafkajs' answer to pause, resume and seek between a crash and the restart: it has no consumer group then. */
const notRunning = () => Object.assign(new Error('Consumer group was not initialized, consumer#run must be called first'), { name: 'KafkaJSNonRetriableError' });

function setup(options: { maxBatch?: number; ready?: () => Promise<void>; gap?: 'deliver' | 'halt'; refuse?: () => boolean } = {}) {
  const held = heldSink();
  const paused = new Set<number>();
  const refuse = () => {
    if (options.refuse?.()) throw notRunning();
  };
  const log: string[] = [];
  const gaps: [number, number, number][] = [];
  const clock = createManualClock();
  const feed = createPartitionFeed({
    async checkGap(tp, expected, first) {
      gaps.push([tp.partition, expected, first]);
      if (options.gap !== 'halt') return 'deliver';
      feed.halt(tp);
      return 'drop';
    },
    sink: held.sink,
    maxBatch: options.maxBatch ?? Number.POSITIVE_INFINITY,
    pause: (tp) => (refuse(), paused.add(tp.partition), log.push(`pause ${tp.partition}`)),
    resume: (tp) => (refuse(), paused.delete(tp.partition), log.push(`resume ${tp.partition}`)),
    ready: options.ready ?? (() => Promise.resolve()),
    retryDelayMs: 100,
    clock,
    logger: silentLogger,
  });
  return { feed, held, paused, log, clock, gaps };
}

describe('partitionFeed', () => {
  it('delivers one batch at a time per partition, pauses a busy partition, other partitions flow', async () => {
    const { feed, held, paused } = setup();
    feed.push(p0, { deliveries: range(0, 0, 3), highWatermark: 3 });
    await settle();
    feed.push(p0, { deliveries: range(0, 3, 5), highWatermark: 5 });
    feed.push(p1, { deliveries: range(1, 0, 2), highWatermark: 2 });
    await settle();
    expect(held.offsets()).toEqual([[0, 1, 2], [0, 1]]);
    expect(paused.has(0)).toBe(true); // one in the sink, one buffered: stop fetching partition 0
    expect(paused.has(1)).toBe(false);

    held.calls[0]!.resolve();
    await settle();
    expect(held.offsets()).toEqual([[0, 1, 2], [0, 1], [3, 4]]);
    expect(paused.has(0)).toBe(false); // buffer empty again: fetch ahead while [3, 4] is in the sink
    expect(held.calls[2]!.batch.highWatermark).toBe(5);
  });

  it('asks about records that start past the expected position before delivering them, and only then', async () => {
    const { feed, held, gaps } = setup();
    feed.expect(p0, 3);
    feed.expect(p1, 0);
    feed.push(p0, { deliveries: range(0, 10, 12), highWatermark: 12 });
    feed.push(p1, { deliveries: range(1, 0, 2), highWatermark: 2 });
    await settle();
    expect(gaps).toEqual([[0, 3, 10]]);
    // partition 1 did not wait for partition 0's question
    expect(held.offsets()).toEqual([[0, 1], [10, 11]]);
    held.calls[1]!.resolve();
    feed.push(p0, { deliveries: range(0, 12, 13), highWatermark: 13 });
    await settle();
    expect(gaps, 'contiguous records raise no question').toHaveLength(1);
    expect(held.offsets()).toEqual([[0, 1], [10, 11], [12]]);
  });

  it('delivers nothing more of a partition the gap check halted, and keeps it paused', async () => {
    const { feed, held, paused, gaps } = setup({ gap: 'halt' });
    feed.expect(p0, 3);
    feed.push(p0, { deliveries: range(0, 10, 12), highWatermark: 12 });
    feed.push(p1, { deliveries: range(1, 0, 1), highWatermark: 1 });
    await settle();
    feed.push(p0, { deliveries: range(0, 12, 14), highWatermark: 14 });
    await settle();
    expect(gaps).toEqual([[0, 3, 10]]);
    expect(held.offsets()).toEqual([[0]]);
    expect(paused.has(0)).toBe(true);
    paused.clear(); // the client restarted after a crash: it forgot every pause and fetches the partition again
    feed.push(p0, { deliveries: range(0, 14, 15), highWatermark: 15 });
    await settle();
    expect(paused.has(0), 'paused again on its next batch').toBe(true);
    expect(held.offsets()).toEqual([[0]]);
    feed.drop(p0); // taken away: a new owner starts afresh
    feed.push(p0, { deliveries: range(0, 20, 21), highWatermark: 21 });
    await settle();
    expect(held.offsets()).toEqual([[0], [20]]);
  });

  it('delivers what is queued before a blocked partition\'s undecodable batch, then keeps it paused until dropped', async () => {
    const { feed, held, paused } = setup();
    feed.push(p0, { deliveries: range(0, 0, 2), highWatermark: 2 });
    await settle();
    feed.push(p0, { deliveries: range(0, 2, 4), highWatermark: 6 }); // queued behind the pending deliver
    expect(feed.block(p0)).toBe(true);
    expect(feed.block(p0), 'already blocked').toBe(false);
    feed.push(p1, { deliveries: range(1, 0, 1), highWatermark: 1 });
    held.calls[0]!.resolve();
    await settle();
    expect(held.offsets(), 'queued records still go out, the other partition flows').toEqual([[0, 1], [0], [2, 3]]);
    held.calls[2]!.resolve();
    await settle();
    expect(paused.has(0), 'drained, but not fetched again').toBe(true);
    expect(feed.nextFetchOffset(p0), 'a rejoin continues at the batch').toBe(4);

    feed.push(p0, { deliveries: range(0, 6, 7), highWatermark: 7 }); // the client restarted and fetched past the batch
    await settle();
    expect(held.offsets()).toHaveLength(3);
    expect(paused.has(0)).toBe(true);

    feed.drop(p0);
    expect(paused.has(0), 'a new ownership reads it again').toBe(false);
    feed.push(p0, { deliveries: range(0, 4, 5), highWatermark: 5 });
    await settle();
    expect(held.offsets().at(-1)).toEqual([4]);
  });

  it('splits batches to maxBatch and never repeats records already queued', async () => {
    const { feed, held } = setup({ maxBatch: 2 });
    feed.push(p0, { deliveries: range(0, 0, 5), highWatermark: 5 });
    feed.push(p0, { deliveries: range(0, 3, 7), highWatermark: 7 }); // a refetch overlapping the queue
    for (let i = 0; i < 5; i++) {
      await settle();
      held.calls.at(-1)?.resolve();
    }
    await settle();
    expect(held.offsets()).toEqual([[0, 1], [2, 3], [4], [5, 6]]);
  });

  it('waits for membership work before delivering', async () => {
    let open!: () => void;
    const membership = new Promise<void>((resolve) => (open = resolve));
    const { feed, held } = setup({ ready: () => membership });
    feed.push(p0, { deliveries: range(0, 0, 2), highWatermark: 2 });
    await settle();
    expect(held.calls).toHaveLength(0);
    open();
    await settle();
    expect(held.offsets()).toEqual([[0, 1]]);
  });

  it('starts a partition at a given offset and resumes it if the buffer was emptied under the loop', async () => {
    let open!: () => void;
    const membership = new Promise<void>((resolve) => (open = resolve));
    const { feed, held, paused } = setup({ ready: () => membership });
    feed.push(p0, { deliveries: range(0, 0, 4), highWatermark: 4 }); // fetched from earliest before the start position was known
    feed.push(p0, { deliveries: range(0, 4, 6), highWatermark: 6 });
    expect(paused.has(0)).toBe(true);
    feed.startAt(p0, 5);
    open();
    await settle();
    expect(paused.has(0)).toBe(false);
    feed.push(p0, { deliveries: range(0, 3, 8), highWatermark: 8 }); // stale records before the start are dropped
    await settle();
    expect(held.offsets()).toEqual([[5, 6, 7]]);
  });

  it('forgets a dropped partition: its buffer goes, its pending deliver does not move the new ownership', async () => {
    const { feed, held } = setup();
    feed.push(p0, { deliveries: range(0, 0, 3), highWatermark: 3 });
    await settle();
    feed.push(p0, { deliveries: range(0, 3, 6), highWatermark: 6 });
    feed.drop(p0);
    expect(feed.nextFetchOffset(p0)).toBeUndefined();
    // regained: the client fetches from the committed offset, 1
    feed.push(p0, { deliveries: range(0, 1, 4), highWatermark: 4 });
    await settle();
    expect(held.calls).toHaveLength(1); // still one deliver at a time, across ownerships
    held.calls[0]!.resolve();
    await settle();
    expect(held.offsets()).toEqual([[0, 1, 2], [1, 2, 3]]);
  });

  it('hands a refused batch to the sink again after the retry delay', async () => {
    const { feed, held, clock } = setup();
    feed.push(p0, { deliveries: range(0, 0, 2), highWatermark: 2 });
    await settle();
    held.calls[0]!.reject(new Error('sink full'));
    await settle();
    expect(held.calls).toHaveLength(1);
    await clock.advance(100);
    await settle();
    expect(held.offsets()).toEqual([[0, 1], [0, 1]]);
  });

  it('loses nothing and rejects nowhere while the client refuses pause and resume (restarting after a crash), and pauses again once restarted', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let restarting = false;
      const { feed, held, paused } = setup({ refuse: () => restarting });
      feed.push(p0, { deliveries: range(0, 0, 2), highWatermark: 2 });
      await settle();
      feed.push(p0, { deliveries: range(0, 2, 4), highWatermark: 4 }); // buffered behind the pending deliver: paused
      expect(paused.has(0)).toBe(true);

      restarting = true;
      held.calls[0]!.resolve(); // the loop takes [2, 3] and resumes the partition: refused
      await settle();
      expect(held.offsets()).toEqual([[0, 1], [2, 3]]);
      feed.push(p0, { deliveries: range(0, 4, 6), highWatermark: 6 }); // a batch fetched before the crash: pausing is refused
      held.calls[1]!.resolve();
      await settle();
      held.calls[2]!.resolve(); // the loop ends with an empty buffer and resumes: refused
      await settle();
      expect(held.offsets()).toEqual([[0, 1], [2, 3], [4, 5]]);

      restarting = false;
      paused.clear(); // restarted: the client paused nothing
      feed.push(p0, { deliveries: range(0, 6, 8), highWatermark: 8 });
      await settle();
      feed.push(p0, { deliveries: range(0, 8, 10), highWatermark: 10 });
      expect(paused.has(0), 'a busy partition is paused again').toBe(true);
      held.calls[3]!.resolve();
      await settle();
      expect(held.offsets()).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);
      expect(paused.has(0)).toBe(false);

      await new Promise((resolve) => setImmediate(resolve)); // rejections are reported after the microtasks
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('delivers nothing after stop, without waiting for the pending deliver', async () => {
    const { feed, held } = setup();
    feed.push(p0, { deliveries: range(0, 0, 1), highWatermark: 1 });
    await settle();
    feed.push(p0, { deliveries: range(0, 1, 3), highWatermark: 3 });
    feed.stop();
    held.calls[0]!.resolve();
    feed.push(p0, { deliveries: range(0, 3, 4), highWatermark: 4 });
    await settle();
    expect(held.offsets()).toEqual([[0]]);
  });
});
