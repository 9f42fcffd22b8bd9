import { canInspect, canReadRecords, MAX_RECORDS_PER_READ, type Broker, type Delivery, type RecordRange, type RecordReader } from '@herald/core';
import { expect } from 'vitest';
import { uniqueName } from '../suiteTests.js';
import type { BrokerFixture } from './fixture.js';
import { committedCount } from './testConsumer.js';

/** What the tests read through: a second handle when the harness makes one (as `herald tail` in another process), else the broker itself. */
async function reader(f: BrokerFixture): Promise<Broker & RecordReader> {
  const via = f.harness.newMember ? await f.member() : f.broker;
  if (!canReadRecords(via)) throw new Error('the broker under test has no read() (canReadRecords is false)');
  return via;
}

/**
 * Reads `[from, end)` of a partition read after read, checking each read: at least one record
 * while below the end, at most `limit`, consecutive offsets starting where it was asked to.
 */
async function readAll(r: RecordReader, range: Omit<RecordRange, 'limit'> & { end: number; limit?: number }): Promise<Delivery[]> {
  const limit = range.limit ?? MAX_RECORDS_PER_READ;
  const all: Delivery[] = [];
  for (let next = range.from; next < range.end; ) {
    const got = await r.read({ topic: range.topic, partition: range.partition, from: next, limit });
    expect(got.length, `a read at ${next}, below the end ${range.end}, returns at least one record`).toBeGreaterThan(0);
    expect(got.length, 'at most limit records').toBeLessThanOrEqual(limit);
    expect(got.map((d) => d.offset), `consecutive offsets from ${next}`).toEqual(got.map((_, i) => next + i));
    all.push(...got);
    next = got[got.length - 1]!.offset + 1;
  }
  return all;
}

const seqs = (deliveries: readonly Delivery[]) => deliveries.map((d) => (JSON.parse(d.value) as { seq: number }).seq);

/** Offsets, keys, values, headers and timestamps as published; reading from the middle starts there. */
export async function readsRange(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const [key0] = f.keysIn(0);
  const [key1] = f.keysIn(1);
  const stamped = Date.now() - 60_000;
  const records = Array.from({ length: 5 }, (_, seq) => f.record(topic, key0!, seq));
  records[2] = { ...f.record(topic, key0!, 2, 'with-headers', stamped), headers: { traceparent: '00-abc-def-01', 'x-note': 'two' } };
  await f.broker.publish(records);
  await f.broker.publish([f.record(topic, key1!, 0), f.record(topic, key1!, 1)]);

  const r = await reader(f);
  const read = await readAll(r, { topic, partition: 0, from: 0, end: 5 });
  expect(read.map((d) => ({ topic: d.topic, partition: d.partition, key: d.key, value: d.value }))).toEqual(
    records.map((record) => ({ topic, partition: 0, key: key0, value: record.value })),
  );
  expect(read[2]!.headers).toEqual({ traceparent: '00-abc-def-01', 'x-note': 'two' });
  expect(read[2]!.timestamp).toBe(stamped);
  for (const d of [read[0]!, read[4]!]) {
    expect(d.headers).toEqual({});
    expect(d.timestamp, 'the append time of a record published without one').toBeGreaterThan(stamped);
  }
  expect(seqs(await readAll(r, { topic, partition: 0, from: 2, end: 5 }))).toEqual([2, 3, 4]);
  expect((await readAll(r, { topic, partition: 1, from: 0, end: 2 })).map((d) => d.key)).toEqual([key1, key1]);
}

/** `limit` bounds each read; reads that go on from the next offset see every record once. */
export async function readsInSteps(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const [key] = f.keysIn(0);
  await f.broker.publish(Array.from({ length: 10 }, (_, seq) => f.record(topic, key!, seq)));
  const r = await reader(f);
  expect(seqs(await readAll(r, { topic, partition: 0, from: 0, end: 10, limit: 3 }))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const [one] = await r.read({ topic, partition: 0, from: 7, limit: 1 });
  expect(one).toMatchObject({ offset: 7, key });
}

/** Reading at the end, beyond it, or where nothing exists returns nothing, and creates nothing. */
export async function readsNothingBeyond(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const [key] = f.keysIn(0);
  await f.broker.publish([0, 1, 2].map((seq) => f.record(topic, key!, seq)));
  const r = await reader(f);
  expect(await r.read({ topic, partition: 0, from: 3, limit: 10 })).toEqual([]);
  expect(await r.read({ topic, partition: 0, from: 50, limit: 10 })).toEqual([]);
  expect(await r.read({ topic, partition: f.partitions + 3, from: 0, limit: 10 })).toEqual([]);
  const missing = uniqueName('missing');
  expect(await r.read({ topic: missing, partition: 0, from: 0, limit: 10 })).toEqual([]);
  if (canInspect(r)) expect(await r.describeTopics([missing]), 'reading did not create the topic').toEqual([]);
}

/** A follower's loop: a read at the end returns nothing, and records published later are read from there. */
export async function seesLaterRecords(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const [key] = f.keysIn(1);
  await f.broker.publish([0, 1].map((seq) => f.record(topic, key!, seq)));
  const r = await reader(f);
  expect(seqs(await readAll(r, { topic, partition: 1, from: 0, end: 2 }))).toEqual([0, 1]);
  expect(await r.read({ topic, partition: 1, from: 2, limit: 10 })).toEqual([]);
  await f.broker.publish([2, 3, 4].map((seq) => f.record(topic, key!, seq)));
  await f.waitFor('the new records to be readable', async () => (await r.read({ topic, partition: 1, from: 2, limit: 10 })).length > 0);
  expect(seqs(await readAll(r, { topic, partition: 1, from: 2, end: 5 }))).toEqual([2, 3, 4]);
}

/** Reading joins no group: groups listed and a group's committed offsets are the same before and after. */
export async function leavesNoGroup(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const counts = Array.from({ length: f.partitions }, (_, p) => p + 2);
  for (const [p, count] of counts.entries()) {
    const [key] = f.keysIn(p);
    await f.broker.publish(Array.from({ length: count }, (_, seq) => f.record(topic, key!, seq)));
  }
  const consumer = await f.consume({ group, topic });
  await f.waitFor('the group committed everything', () => committedCount(consumer) >= counts.reduce((a, b) => a + b, 0));
  await f.within('closing the subscription', consumer.close());

  const r = await reader(f);
  if (!canInspect(r)) throw new Error('this test inspects through the reader: its broker must also pass canInspect');
  await f.waitFor(`group ${group} to have no live member`, async () => (await r.describeGroup(group)).members === 0);
  const groupsBefore = await r.listGroups();
  const before = await r.describeGroup(group);
  for (const [partition, end] of counts.entries()) expect(await readAll(r, { topic, partition, from: 0, end })).toHaveLength(end);
  expect(await r.listGroups(), 'no group appeared').toEqual(groupsBefore);
  expect(await r.describeGroup(group), 'the group did not move').toEqual(before);
}

/** Malformed ranges are refused before anything is read. */
export async function refusesMalformed(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const r = await reader(f);
  const good: RecordRange = { topic, partition: 0, from: 0, limit: 10 };
  const bad: RecordRange[] = [
    { ...good, topic: '' },
    { ...good, partition: -1 },
    { ...good, partition: 0.5 },
    { ...good, from: -1 },
    { ...good, from: 1.5 },
    { ...good, limit: 0 },
    { ...good, limit: MAX_RECORDS_PER_READ + 1 },
  ];
  for (const range of bad) {
    await expect(Promise.resolve().then(() => r.read(range)), JSON.stringify(range)).rejects.toMatchObject({ code: 'invalid-options' });
  }
}
