import { createManualClock, isHeraldError, partitionForKey, type DeliveryBatch, type DeliverySink, type TopicPartition } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { memoryBroker } from '../src/index.js';

/** Lets every pending promise chain of the in-memory broker run (it never uses timers itself). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

const tps = (list: readonly TopicPartition[]) => list.map((tp) => tp.partition).sort();

function recorder(name: string, log: string[], options: { commitOnRevoke?: () => Promise<void> } = {}) {
  const batches: DeliveryBatch[] = [];
  const sink: DeliverySink = {
    deliver: async (batch) => void batches.push(batch),
    assigned: (partitions) => void log.push(`${name} assigned ${tps(partitions)}`),
    async revoked(partitions) {
      log.push(`${name} revoking ${tps(partitions)}`);
      await options.commitOnRevoke?.();
      log.push(`${name} revoked ${tps(partitions)}`);
    },
  };
  return { sink, batches, values: () => batches.flatMap((b) => b.deliveries.map((d) => d.value)) };
}

describe('memoryBroker', () => {
  it('revokes moved partitions from the old owner before assigning them to the new one', async () => {
    const broker = memoryBroker({ partitions: 4 });
    const log: string[] = [];
    await broker.subscribe({ group: 'g', topics: ['t'] }, recorder('a', log).sink);
    await broker.subscribe({ group: 'g', topics: ['t'] }, recorder('b', log).sink);
    expect(log).toEqual(['a assigned 0,1,2,3', 'a revoking 1,3', 'a revoked 1,3', 'b assigned 1,3']);
    await broker.close();
  });

  it('grows a topic with ensureTopics, and running members take the new partitions', async () => {
    const broker = memoryBroker({ partitions: 4 });
    await broker.ensureTopics([{ name: 't', partitions: 2 }]);
    const log: string[] = [];
    const member = recorder('a', log);
    await broker.subscribe({ group: 'g', topics: ['t'] }, member.sink);
    await broker.ensureTopics([{ name: 't', partitions: 3 }]);
    await broker.ensureTopics([{ name: 't', partitions: 1 }]);
    expect(log, 'grown once, never shrunk').toEqual(['a assigned 0,1', 'a assigned 2']);
    let key = 0;
    while (partitionForKey(`k${key}`, 3) !== 2) key++;
    await broker.publish([{ topic: 't', key: `k${key}`, value: 'on the new partition' }]);
    await flush();
    expect(member.batches.map((b) => [b.partition, b.deliveries[0]!.value])).toEqual([[2, 'on the new partition']]);
    expect((await broker.describeTopics(['t']))[0]!.partitions.map((p) => p.end)).toEqual([0, 0, 1]);
    await broker.close();
  });

  it('accepts commits made inside revoked, and the new owner starts there', async () => {
    const broker = memoryBroker({ partitions: 1 });
    await broker.publish(['r0', 'r1', 'r2'].map((value) => ({ topic: 't', key: 'k', value })));
    const log: string[] = [];
    let commitFirst: () => Promise<void> = async () => {};
    const first = recorder('a', log, { commitOnRevoke: () => commitFirst() });
    const subscription = await broker.subscribe({ group: 'g', topics: ['t'] }, first.sink);
    commitFirst = () => subscription.commit([{ topic: 't', partition: 0, offset: 2 }]);
    await flush();
    await subscription.close();
    expect(broker.committed('g', 't', 0)).toBe(2);
    const second = recorder('b', log);
    await broker.subscribe({ group: 'g', topics: ['t'] }, second.sink);
    await flush();
    expect(second.values()).toEqual(['r2']);
    await broker.close();
  });

  it('moves a crashed client’s partitions without revoked, ignoring its later commits', async () => {
    const broker = memoryBroker({ partitions: 2 });
    const other = broker.connect();
    const log: string[] = [];
    await broker.subscribe({ group: 'g', topics: ['t'] }, recorder('a', log).sink);
    const doomed = await other.subscribe({ group: 'g', topics: ['t'] }, recorder('b', log).sink);
    await doomed.commit([{ topic: 't', partition: 1, offset: 0 }]);
    await other.crash();
    await doomed.commit([{ topic: 't', partition: 1, offset: 7 }]);
    expect(log).toEqual(['a assigned 0,1', 'a revoking 1', 'a revoked 1', 'b assigned 1', 'a assigned 1']);
    expect(broker.committed('g', 't', 1)).toBe(0);
    await expect(other.publish([{ topic: 't', key: 'k', value: 'v' }])).rejects.toMatchObject({ code: 'closed' });
    await broker.close();
  });

  it('refuses to reset the offsets of a group with live members', async () => {
    const broker = memoryBroker();
    const subscription = await broker.subscribe({ group: 'g', topics: ['t'] }, recorder('a', []).sink);
    const error = await broker.resetOffsets({ group: 'g', topic: 't', to: 'earliest' }).catch((e: unknown) => e);
    expect(isHeraldError(error) && error.code).toBe('group-active');
    await subscription.close();
    await broker.resetOffsets({ group: 'g', topic: 't', to: 'latest' });
    expect(broker.committed('g', 't', 0)).toBe(0);
  });

  it('delivers a rejected batch again after retryDelayMs on its clock', async () => {
    const clock = createManualClock(1000);
    const broker = memoryBroker({ partitions: 1, clock, retryDelayMs: 100 });
    const seen: number[][] = [];
    let fail = true;
    await broker.subscribe({ group: 'g', topics: ['t'] }, {
      async deliver(batch) {
        seen.push(batch.deliveries.map((d) => d.offset));
        if (fail) throw new Error('sink not ready');
      },
      revoked: async () => {},
    });
    await broker.publish([{ topic: 't', key: 'k', value: 'a' }, { topic: 't', key: 'k', value: 'b' }]);
    await flush();
    expect(seen).toEqual([[0, 1]]);
    fail = false;
    await clock.advance(99);
    await flush();
    expect(seen).toHaveLength(1);
    await clock.advance(1);
    await flush();
    expect(seen).toEqual([[0, 1], [0, 1]]);
    expect(broker.records('t').map((d) => d.timestamp)).toEqual([1000, 1000]);
    await broker.close();
  });

  it('bounds batches by maxBatch, the smaller of the broker’s and the subscription’s', async () => {
    const broker = memoryBroker({ partitions: 1, maxBatch: 3 });
    await broker.publish(Array.from({ length: 7 }, (_, i) => ({ topic: 't', key: 'k', value: `${i}` })));
    const wide = recorder('a', []);
    const narrow = recorder('b', []);
    await broker.subscribe({ group: 'wide', topics: ['t'], maxBatch: 10 }, wide.sink);
    await broker.subscribe({ group: 'narrow', topics: ['t'], maxBatch: 2 }, narrow.sink);
    await flush();
    expect(wide.batches.map((b) => b.deliveries.length)).toEqual([3, 3, 1]);
    expect(narrow.batches.map((b) => b.deliveries.length)).toEqual([2, 2, 2, 1]);
    expect(wide.batches.map((b) => b.highWatermark)).toEqual([7, 7, 7]);
    await broker.close();
  });

  it('validates its options and subscriptions', async () => {
    expect(() => memoryBroker({ partitions: 0 })).toThrow(/partitions must be a positive integer/);
    const broker = memoryBroker();
    await expect(broker.subscribe({ group: '', topics: ['t'] }, recorder('a', []).sink)).rejects.toMatchObject({ code: 'invalid-options' });
    await expect(broker.subscribe({ group: 'g', topics: [] }, recorder('a', []).sink)).rejects.toMatchObject({ code: 'invalid-options' });
    await broker.ensureTopics([{ name: 'wide', partitions: 8 }]);
    await broker.publish(Array.from({ length: 200 }, (_, i) => ({ topic: 'wide', key: `k${i}`, value: '' })));
    expect(new Set(broker.records('wide').map((d) => d.partition)).size).toBe(8);
    expect(broker.records('unknown')).toEqual([]);
    await broker.close();
    await broker.close();
  });
});
