import { describe, expect, it } from 'vitest';
import { partitionForKey } from '@herald/core';
import type { DeliverySink, Subscription, TopicPartition } from '@herald/core';
import { mockGroupBrokers, unique, waitFor } from './helpers.js';

const { open } = mockGroupBrokers({ sessionTimeoutMs: 8_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 });

/** One handler run on a partition: its start and end on a counter both members share (an order, not a time). */
interface Interval {
  readonly member: string;
  readonly partition: number;
  readonly start: number;
  end?: number;
}

let tick = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A member as the port wants it: a slow handler per batch, and a `revoked` that lets its running
 * handler finish and commits what was handled before it resolves.
 */
function slowMember(member: string, intervals: Interval[], handled: Set<string>) {
  let resolveSub!: (sub: Subscription) => void;
  const subscription = new Promise<Subscription>((resolve) => (resolveSub = resolve));
  const running = new Map<number, Promise<void>>();
  /** Per partition, the offset after the last record handled: committed in `revoked` only, as a sink committing now and then would. */
  const done = new Map<number, number>();
  const sink: DeliverySink = {
    deliver(batch) {
      const work = (async () => {
        const interval: Interval = { member, partition: batch.partition, start: ++tick };
        intervals.push(interval);
        await sleep(2_000);
        for (const d of batch.deliveries) handled.add(`${d.partition}/${d.offset}`);
        interval.end = ++tick;
        const next = done.get(batch.partition);
        done.set(batch.partition, Math.max(next ?? 0, batch.deliveries.at(-1)!.offset + 1));
      })();
      running.set(batch.partition, work);
      return work;
    },
    async revoked(tps: readonly TopicPartition[]) {
      await Promise.allSettled(tps.map((tp) => running.get(tp.partition)));
      const offsets = tps.flatMap((tp) => (done.has(tp.partition) ? [{ ...tp, offset: done.get(tp.partition)! }] : []));
      for (const tp of tps) done.delete(tp.partition);
      // a commit the group refuses (the mock refuses every commit while a join round is open) only means redeliveries
      await (await subscription).commit(offsets).catch(() => {});
    },
  };
  return { sink, attach: resolveSub };
}

describe('hand-over of partitions in a rebalance (mock cluster)', () => {
  it('the new owner of a partition starts handling it only after its old owner\'s handlers ended, and no record is lost', async () => {
    const topic = unique('handover');
    const group = unique('g');
    const writer = open();
    const records = Array.from({ length: 48 }, (_, i) => ({ topic, key: `k${i}`, value: String(i) }));
    await writer.publish(records);
    const published = new Set<string>();
    const next = new Map<number, number>();
    for (const r of records) {
      const p = partitionForKey(r.key, 4);
      published.add(`${p}/${next.get(p) ?? 0}`);
      next.set(p, (next.get(p) ?? 0) + 1);
    }

    const intervals: Interval[] = [];
    const handled = new Set<string>();
    const first = slowMember('first', intervals, handled);
    first.attach(await open().subscribe({ group, topics: [topic], maxBatch: 2 }, first.sink));
    await waitFor('the first member to be handling a batch', () => intervals.some((i) => i.end === undefined));
    // the second member joins while the first one's handlers run
    const second = slowMember('second', intervals, handled);
    second.attach(await open().subscribe({ group, topics: [topic], maxBatch: 2 }, second.sink));
    await waitFor('every record to be handled', () => [...published].every((r) => handled.has(r)), 40_000);

    const moved = new Set(intervals.filter((i) => i.member === 'second').map((i) => i.partition));
    expect(moved.size, 'the rebalance moved partitions to the second member').toBeGreaterThan(0);
    for (const partition of moved) {
      const ofFirst = intervals.filter((i) => i.partition === partition && i.member === 'first');
      const ofSecond = intervals.filter((i) => i.partition === partition && i.member === 'second');
      expect(ofFirst.length, `partition ${partition}: the first member handled it before it moved`).toBeGreaterThan(0);
      const firstEnded = Math.max(...ofFirst.map((i) => i.end ?? Number.POSITIVE_INFINITY));
      const secondStarted = Math.min(...ofSecond.map((i) => i.start));
      expect(secondStarted, `partition ${partition}: the new owner started after the old owner's last handler ended`).toBeGreaterThan(firstEnded);
    }
  }, 90_000);
});
