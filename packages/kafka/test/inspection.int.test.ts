import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canInspect, jsonLogger, partitionForKey } from '@herald/core';
import type { PartitionLag } from '@herald/core';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import type { KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker } from '../src/index.js';
import type { KafkaBroker } from '../src/index.js';
import { partitionCount, recordingSink, unique, waitFor } from './helpers.js';

let mock: KafkaMock;
const brokers: KafkaBroker[] = [];

/** A broker on the mock with short sessions (its rebalances last session - 1 s) and a tiny fetch wait. */
function open(): KafkaBroker {
  const broker = kafkaBroker({
    brokers: mock.brokers,
    logger: jsonLogger({ level: 'error' }),
    fetch: { maxWaitMs: 10 },
    group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
  });
  brokers.push(broker);
  return broker;
}

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});

afterAll(async () => {
  await Promise.allSettled(brokers.map((b) => b.close()));
  await mock?.stop();
});

describe('kafkaBroker inspection on the mock cluster', () => {
  // one topic with 60 records over every partition, and a group that committed part of them:
  // half of partition 0, all of partition 1, nothing on the others; nobody runs the group after
  const topic = unique('inspected');
  const group = unique('billing');
  let ends: number[];
  let runner: KafkaBroker;

  beforeAll(async () => {
    runner = open();
    const records = Array.from({ length: 60 }, (_, i) => ({ topic, key: `order-${i}`, value: String(i) }));
    await runner.publish(records);
    const partitions = await partitionCount(mock.brokers, topic);
    ends = Array.from({ length: partitions }, (_, p) => records.filter((r) => partitionForKey(r.key, partitions) === p).length);
    const sink = recordingSink();
    const sub = await runner.subscribe({ group, topics: [topic] }, sink);
    await waitFor('60 deliveries', () => sink.deliveries.length >= 60);
    await sub.commit([
      { topic, partition: 0, offset: Math.floor(ends[0]! / 2) },
      { topic, partition: 1, offset: ends[1]! },
    ]);
    await sub.close();
  });

  it('is found by canInspect', () => {
    expect(canInspect(open())).toBe(true);
  });

  it('describes a group without a running consumer: committed, end and lag per partition', async () => {
    expect(ends).toHaveLength(4);
    expect(ends.every((n) => n > 0)).toBe(true);
    const expected: PartitionLag[] = [
      { topic, partition: 0, committed: Math.floor(ends[0]! / 2), end: ends[0]!, lag: ends[0]! - Math.floor(ends[0]! / 2) },
      { topic, partition: 1, committed: ends[1]!, end: ends[1]!, lag: 0 },
      { topic, partition: 2, committed: null, end: ends[2]!, lag: ends[2]! },
      { topic, partition: 3, committed: null, end: ends[3]!, lag: ends[3]! },
    ];
    // a separate instance, as an operator's tool would be: it never ran the group
    const description = await open().describeGroup(group);
    expect(description).toEqual({ group, members: 0, partitions: expected, totalLag: expected.reduce((sum, p) => sum + p.lag, 0) });
  });

  it('describes topics: partitions in order with their start and end offsets, retention unknown on the mock', async () => {
    const inspector = open();
    const missing = unique('missing');
    expect(await inspector.describeTopics([topic, missing])).toEqual([
      { name: topic, partitions: ends.map((end, partition) => ({ partition, start: 0, end })), retentionMs: null, retentionBytes: null },
    ]);
    const all = await inspector.describeTopics();
    const names = all.map((t) => t.name);
    expect(names).toContain(topic);
    expect(names).not.toContain(missing); // asking about it did not create it
    expect(names).toEqual([...names].sort());
  });

  it('describes many topics at once from a client that has never asked about them', async () => {
    // kafkajs refreshes shared metadata for each topic newly asked about: asked all at once, a
    // late refresh can drop a topic the client just learned, and its offsets come back empty
    const prefix = unique('many');
    const many = Array.from({ length: 30 }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
    for (const name of many) await runner.publish([{ topic: name, key: 'k', value: 'v' }]);
    for (let round = 0; round < 3; round++) {
      const described = await open().describeTopics(many);
      expect(described.map((t) => t.name)).toEqual(many);
      for (const t of described) expect(t.partitions.reduce((sum, p) => sum + p.end - p.start, 0), t.name).toBe(1);
    }
  });

  it('lists the group, and a group it ran without ever committing only while that group has a member', async () => {
    const idle = unique('idle');
    const sub = await runner.subscribe({ group: idle, topics: [topic] }, recordingSink());
    expect(await runner.listGroups()).toEqual(expect.arrayContaining([group, idle]));
    expect((await runner.describeGroup(idle)).members).toBe(1);
    await sub.close();
    const groups = await runner.listGroups();
    expect(groups).toContain(group);
    expect(groups).not.toContain(idle);
    expect(groups).toEqual([...groups].sort());
  });

  it('reports an unknown group with no members and no partitions', async () => {
    const nobody = unique('nobody');
    expect(await open().describeGroup(nobody)).toEqual({ group: nobody, members: 0, partitions: [], totalLag: 0 });
  });

  it('refuses empty names with invalid-options', async () => {
    const inspector = open();
    await expect(inspector.describeGroup('')).rejects.toMatchObject({ code: 'invalid-options' });
    await expect(inspector.describeTopics([''])).rejects.toMatchObject({ code: 'invalid-options' });
  });
});
