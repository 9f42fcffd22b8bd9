import { partitionForKey, type DeliveryBatch } from '@herald/core';
import { expect } from 'vitest';
import type { BrokerFixture } from './fixture.js';
import { decode } from './testConsumer.js';

/** Every record published (before and after subscribing) arrives, each partition in ascending offsets. */
export async function deliversEveryRecord(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
  const batch = (round: number) => keys.map((key) => f.record(topic, key, round));
  for (let round = 0; round < 5; round++) await f.broker.publish(batch(round));
  const consumer = await f.consume({ group: f.group(), topic });
  for (let round = 5; round < 10; round++) await f.broker.publish(batch(round));

  await f.waitFor('200 deliveries', () => consumer.deliveries.length >= 200);
  const seen = consumer.deliveries.map((d) => `${d.key}/${decode(d).seq}`).sort();
  const expected = keys.flatMap((key) => Array.from({ length: 10 }, (_, seq) => `${key}/${seq}`)).sort();
  expect(seen).toEqual(expected);
  for (let p = 0; p < f.partitions; p++) {
    const offsets = consumer.of(p).map((d) => d.offset);
    expect(offsets, `offsets of partition ${p}`).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size, `no offset of partition ${p} delivered twice`).toBe(offsets.length);
  }
  for (const d of consumer.deliveries) expect(d.topic).toBe(topic);
}

/** Each key lands on `partitionForKey(key, partitions)`, as Kafka's default partitioner puts it. */
export async function placesKeys(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const keys = Array.from({ length: 50 }, (_, i) => `customer-${i * 7919}`);
  await f.broker.publish(keys.map((key) => f.record(topic, key, 0)));
  const consumer = await f.consume({ group: f.group(), topic });
  await f.waitFor('50 deliveries', () => consumer.deliveries.length >= 50);
  for (const d of consumer.deliveries) expect(d.partition, `partition of ${d.key}`).toBe(partitionForKey(d.key, f.partitions));
}

/** 40 keys, each published by its own sequential publisher (1-3 records per call), all at once. */
export async function keepsPerKeyOrder(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const consumer = await f.consume({ group: f.group(), topic });
  const keys = Array.from({ length: 40 }, (_, i) => `order-${i}`);
  const perKey = 25;
  await Promise.all(
    keys.map(async (key, k) => {
      for (let seq = 0; seq < perKey; ) {
        const size = Math.min(1 + ((seq + k) % 3), perKey - seq);
        await f.broker.publish(Array.from({ length: size }, (_, i) => f.record(topic, key, seq + i)));
        seq += size;
      }
    }),
  );
  await f.waitFor(`${keys.length * perKey} deliveries`, () => consumer.deliveries.length >= keys.length * perKey);
  for (const key of keys) {
    const seqs = consumer.deliveries.filter((d) => d.key === key).map((d) => decode(d).seq);
    expect(seqs, `order of ${key}`).toEqual(Array.from({ length: perKey }, (_, i) => i));
  }
}

/** Headers and given timestamps arrive unchanged; a record without timestamp gets the append time. */
export async function roundTripsHeaders(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const timestamp = Date.now() - 3_600_000;
  const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-tenant': 'acme' };
  const before = Date.now();
  await f.broker.publish([
    { ...f.record(topic, 'a', 0, 'stamped', timestamp), headers },
    f.record(topic, 'a', 1, 'unstamped'),
  ]);
  const after = Date.now();
  const consumer = await f.consume({ group: f.group(), topic });
  await f.waitFor('2 deliveries', () => consumer.deliveries.length >= 2);
  const [stamped, unstamped] = consumer.deliveries;
  expect(stamped!.headers).toEqual(headers);
  expect(stamped!.timestamp).toBe(timestamp);
  expect(stamped!.key).toBe('a');
  expect(decode(stamped!)).toEqual({ key: 'a', seq: 0, tag: 'stamped' });
  expect(unstamped!.timestamp).toBeGreaterThanOrEqual(before - 5000);
  expect(unstamped!.timestamp).toBeLessThanOrEqual(after + 5000);
}

/**
 * A partition whose deliver is pending gets no further deliver, while other partitions flow: with
 * partition 0's first deliver held, eight rounds each publish a record to partition 0 and one to
 * partition 1 and wait for partition 1's to arrive, so the broker went round its loop (and saw new
 * records in the held partition) many times; partition 0 still had exactly one deliver call. Once
 * released, it drains in order, never two delivers at once.
 */
export async function appliesBackpressure(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const [held] = f.keysIn(0);
  const [free] = f.keysIn(1);
  const consumer = await f.consume({ group: f.group(), topic });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  consumer.gate = (batch: DeliveryBatch) => (batch.partition === 0 && ++calls === 1 ? released : undefined);

  await f.broker.publish([f.record(topic, held!, 0)]);
  await f.waitFor('the first deliver of partition 0', () => calls === 1);
  const rounds = 8;
  for (let round = 1; round <= rounds; round++) {
    await f.broker.publish([f.record(topic, held!, round)]);
    await f.broker.publish([f.record(topic, free!, round)]);
    await f.waitFor(`round ${round} of partition 1 while partition 0 is held`, () => consumer.of(1).length === round);
  }
  expect(calls, 'deliver calls for the held partition').toBe(1);
  expect(consumer.of(0).map((d) => decode(d).seq)).toEqual([0]);
  expect(consumer.maxConcurrentPerPartition, 'delivers running at once for one partition').toBe(1);
  expect(consumer.of(1).map((d) => decode(d).seq), 'partition 1 flowed').toEqual(Array.from({ length: rounds }, (_, i) => i + 1));

  release();
  await f.waitFor('the held partition to drain', () => consumer.of(0).length >= rounds + 1);
  expect(consumer.of(0).map((d) => decode(d).seq)).toEqual(Array.from({ length: rounds + 1 }, (_, i) => i));
  expect(consumer.maxConcurrentPerPartition).toBe(1);
}

/**
 * close() with a deliver pending (the sink abandons it, committing nothing): close calls revoked,
 * waits for it, and the group's next member gets the abandoned records again.
 */
export async function closesWithDeliverInFlight(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const [key] = f.keysIn(0);
  const first = await f.consume({ group, topic, autoCommit: false });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  first.gate = (batch) => (batch.partition === 0 ? released : undefined);
  await f.broker.publish([0, 1, 2].map((seq) => f.record(topic, key!, seq)));
  await f.waitFor('a deliver of partition 0 in flight', () => first.of(0).length > 0);

  const closing = first.close();
  release(); // the sink lets go of the batch without processing it
  await f.within('close() with a deliver in flight', closing);
  expect(first.revokedCalls.flat(), 'revoked on close').toContain(0);
  expect(first.revokedDone(), 'revoked finished before close resolved').toBe(true);

  const second = await f.consume({ group, topic });
  await f.waitFor('the abandoned records again', () => second.of(0).length >= 3);
  expect(second.of(0).map((d) => decode(d).seq)).toEqual([0, 1, 2]);
}
