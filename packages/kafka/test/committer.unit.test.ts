import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createCommitter } from '../src/internal/committer.js';

/**
 * A kafkajs consumer's commit path in front of a group coordinator: a commit is stored, and
 * COMMIT_OFFSETS emitted, when `commitOffsets` completes. The first commit is `held` until the test
 * releases it (as one kafkajs retries after a coordinator moved or a request timed out) or `refused`
 * (as during a rebalance); the others complete at once.
 */
function coordinator(first: 'held' | 'refused') {
  const emitter = new EventEmitter();
  const events = { COMMIT_OFFSETS: 'consumer.commit_offsets' };
  /** The group's committed offset per `topic/partition`, as the coordinator holds it. */
  const committed = new Map<string, string>();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  const consumer = {
    events,
    on: (name: string, listener: (event: unknown) => void) => emitter.on(name, listener),
    commitOffsets: async (offsets: { topic: string; partition: number; offset: string }[]) => {
      if (++calls === 1 && first === 'held') await held;
      if (calls === 1 && first === 'refused') throw Object.assign(new Error('The group is rebalancing'), { name: 'KafkaJSProtocolError', type: 'REBALANCE_IN_PROGRESS', retriable: false });
      for (const o of offsets) committed.set(`${o.topic}/${o.partition}`, o.offset);
      emitter.emit(events.COMMIT_OFFSETS, { payload: { topics: offsets.map((o) => ({ topic: o.topic, partitions: [{ partition: o.partition, offset: o.offset }] })) } });
    },
  };
  return { consumer: consumer as never, committed, release };
}

describe('createCommitter', () => {
  it('lands commits in the order they were made: a later offset is never overwritten by an earlier commit still being retried', async () => {
    const { consumer, committed, release } = coordinator('held');
    const commit = createCommitter({ consumer, group: 'g', assigned: () => true });
    const periodic = commit([{ topic: 'orders', partition: 0, offset: 100 }]); // retried by the client
    const onRevoke = commit([{ topic: 'orders', partition: 0, offset: 150 }]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([periodic, onRevoke]);
    expect(committed.get('orders/0')).toBe('150');
  });

  it('sends the next commit after one that failed', async () => {
    const { consumer, committed } = coordinator('refused');
    const commit = createCommitter({ consumer, group: 'g', assigned: () => true });
    const refused = commit([{ topic: 'orders', partition: 0, offset: 5 }]);
    const next = commit([{ topic: 'orders', partition: 0, offset: 6 }]);
    await expect(refused).rejects.toMatchObject({ code: 'group-rebalancing', retriable: true });
    await next;
    expect(committed.get('orders/0')).toBe('6');
  });

  it('drops an offset whose partition this member lost while it waited behind another commit: the new owner’s commit is not moved back', async () => {
    const { consumer, committed, release } = coordinator('held');
    const owned = new Set(['orders/0']);
    const commit = createCommitter({ consumer, group: 'g', assigned: (tp) => owned.has(`${tp.topic}/${tp.partition}`) });
    const first = commit([{ topic: 'orders', partition: 0, offset: 100 }]); // sent, retried by the client
    const queued = commit([{ topic: 'orders', partition: 0, offset: 150 }]); // made before the rebalance, waits behind it
    await new Promise((resolve) => setImmediate(resolve));
    owned.delete('orders/0'); // the rebalance gave the partition to another member
    release();
    await first;
    committed.set('orders/0', '170'); // the new owner commits what it processed from 100 on
    await expect(queued, 'nothing of it was sent').resolves.toEqual([]);
    expect(committed.get('orders/0')).toBe('170');
  });
});
