import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { partitionForKey } from '@herald/core';
import type { CommittedOffset, DeliverySink, Subscription, TopicPartition } from '@herald/core';
import { mockGroupBrokers, unique, waitFor } from './helpers.js';

const { open, bootstrap } = mockGroupBrokers({ sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 });

/** A sink whose subscription is known once `subscribe` resolved; deliveries wait for it. */
function sinkOf(handlers: { deliver: (sub: Subscription, last: CommittedOffset) => Promise<void>; revoked?: (sub: Subscription, tps: readonly TopicPartition[]) => Promise<void> }) {
  let resolveSub!: (sub: Subscription) => void;
  const subscription = new Promise<Subscription>((resolve) => (resolveSub = resolve));
  const sink: DeliverySink = {
    async deliver(batch) {
      const last = batch.deliveries.at(-1)!;
      await handlers.deliver(await subscription, { topic: batch.topic, partition: batch.partition, offset: last.offset + 1 });
    },
    async revoked(tps) {
      await handlers.revoked?.(await subscription, tps);
    },
  };
  return { sink, attach: resolveSub };
}

describe('commits around a rebalance (mock cluster)', () => {
  it('never moves the group back: a commit made in revoked after the new owner committed further is not sent', async () => {
    const topic = unique('handover');
    const group = unique('g');
    const writer = open();
    const records = Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i}`, value: String(i) }));
    await writer.publish(records);
    const perPartition = new Map<number, number>();
    for (const r of records) perPartition.set(partitionForKey(r.key, 4), (perPartition.get(partitionForKey(r.key, 4)) ?? 0) + 1);
    expect([0, 1, 2, 3].every((p) => (perPartition.get(p) ?? 0) >= 2), 'a commit at 1 is below the end of every partition').toBe(true);

    // the new owner commits everything it receives at once
    const joinerCommitted = new Map<number, number>();
    const joiner = sinkOf({
      deliver: async (sub, next) => {
        await sub.commit([next]);
        joinerCommitted.set(next.partition, next.offset);
      },
    });
    // the first member commits nothing while delivering; in revoked it commits its first record of each
    // partition the new owner took, once the new owner is past it: a slow handler finishing as the
    // partition moves. The eager hand-over holds the first member's JoinGroup while revoked runs, so
    // the new owner gets the partitions only once the hold expired (a revoked that outlives it)
    const lostByFirst: number[] = [];
    let revokedDone = false;
    const takenAndCommitted = () => [0, 1, 2, 3].filter((p) => joinerCommitted.get(p) === perPartition.get(p));
    const first = sinkOf({
      deliver: async () => {},
      revoked: async (sub, tps) => {
        if (revokedDone) return; // close, at the end of the test
        await waitFor('the new owner to commit every record of a partition it took', () => takenAndCommitted().length > 0);
        const moved = takenAndCommitted();
        lostByFirst.push(...moved);
        await sub.commit(tps.filter((tp) => moved.includes(tp.partition)).map((tp) => ({ ...tp, offset: 1 })));
        revokedDone = true;
      },
    });

    first.attach(await open().subscribe({ group, topics: [topic] }, first.sink));
    joiner.attach(await open().subscribe({ group, topics: [topic] }, joiner.sink));
    await waitFor('the first member to lose partitions and commit in revoked', () => revokedDone, 30_000);

    const admin = new Kafka({ brokers: [...bootstrap()], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const [answer] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      expect(lostByFirst, 'the rebalance moved partitions').not.toEqual([]);
      const committed = new Map(answer!.partitions.map((p) => [p.partition, Number(p.offset)]));
      for (const p of lostByFirst) expect(committed.get(p), `partition ${p}: the new owner's commit stands`).toBe(perPartition.get(p));
    } finally {
      await admin.disconnect();
    }
  }, 60_000);
});
