import { canResetOffsets, type StartPosition } from '@herald/core';
import { expect } from 'vitest';
import type { BrokerFixture } from './fixture.js';
import { committedCount, decode, type TestConsumer } from './testConsumer.js';

const HOUR = 3_600_000;

/** Ten old records, one a second an hour ago, round robin over the partitions; returns their base time. */
async function publishHistory(f: BrokerFixture, topic: string): Promise<number> {
  const base = Date.now() - HOUR;
  for (let i = 0; i < 10; i++) {
    const key = f.keysIn(i % f.partitions)[0]!;
    await f.broker.publish([f.record(topic, key, i, 'old', base + i * 1000)]);
  }
  return base;
}

/** One new record per partition, so that any wrongly replayed older record shows before it. */
async function publishNew(f: BrokerFixture, topic: string): Promise<number[]> {
  const seqs: number[] = [];
  for (let p = 0; p < f.partitions; p++) {
    seqs.push(100 + p);
    await f.broker.publish([f.record(topic, f.keysIn(p)[0]!, 100 + p, 'new')]);
  }
  return seqs;
}

const sortedSeqs = (c: TestConsumer) => c.deliveries.map((d) => decode(d).seq).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** A new group starts at the first record, after the last one, or at the first record at or after a time. */
export async function startsAtPosition(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const base = await publishHistory(f, topic);
  const start = async (position: StartPosition) => f.consume({ group: f.group(), topic, start: position });
  const earliest = await start('earliest');
  const fromTime = await start({ timestamp: base + 5000 });
  const latest = await start('latest');
  const fresh = await publishNew(f, topic);

  const done = (c: TestConsumer, n: number) => c.deliveries.length >= n;
  await f.waitFor('every group to reach the new records', () => done(earliest, 10 + f.partitions) && done(fromTime, 5 + f.partitions) && done(latest, f.partitions));
  expect(sortedSeqs(earliest)).toEqual([...range(0, 10), ...fresh]);
  expect(sortedSeqs(fromTime)).toEqual([...range(5, 10), ...fresh]);
  expect(sortedSeqs(latest)).toEqual(fresh);
}

/** resetOffsets moves an idle group back to earliest, to a time, or forward to latest. */
export async function replaysWithReset(f: BrokerFixture): Promise<void> {
  const broker = f.broker;
  if (!canResetOffsets(broker)) throw new Error(`the adapter declares 'replay' but its broker has no resetOffsets()`);
  const topic = await f.topic();
  const group = f.group();
  const base = await publishHistory(f, topic);
  const run = async (expected: number, before?: () => Promise<unknown>) => {
    const consumer = await f.consume({ group, topic });
    await before?.();
    await f.waitFor(`${expected} deliveries after the reset, committed`, () => consumer.deliveries.length >= expected && committedCount(consumer) >= expected);
    await f.within('closing the subscription', consumer.close());
    return sortedSeqs(consumer);
  };

  expect(await run(10)).toEqual(range(0, 10));
  await broker.resetOffsets({ group, topic, to: 'earliest' });
  expect(await run(10)).toEqual(range(0, 10));
  await broker.resetOffsets({ group, topic, to: { timestamp: base + 6000 } });
  expect(await run(4)).toEqual(range(6, 10));
  await broker.resetOffsets({ group, topic, to: 'earliest' });
  await broker.resetOffsets({ group, topic, to: 'latest' });
  let fresh: number[] = [];
  expect(await run(f.partitions, async () => (fresh = await publishNew(f, topic)))).toEqual(fresh);
}

/**
 * resetOffsets with a partition moves only that partition, to a start position or an exact
 * offset; an offset outside the partition's records, one without its partition, or a partition
 * the topic lacks is `invalid-options` and moves nothing.
 */
export async function resetsOnePartition(f: BrokerFixture): Promise<void> {
  const broker = f.broker;
  if (!canResetOffsets(broker)) throw new Error(`the adapter declares 'replay' but its broker has no resetOffsets()`);
  const topic = await f.topic();
  const group = f.group();
  await publishHistory(f, topic);
  const run = async (expected: number) => {
    const consumer = await f.consume({ group, topic });
    await f.waitFor(`${expected} deliveries after the reset, committed`, () => consumer.deliveries.length >= expected && committedCount(consumer) >= expected);
    await f.within('closing the subscription', consumer.close());
    return sortedSeqs(consumer);
  };
  // publishHistory puts record i on partition i % partitions: partition 0 holds 0, P, 2P... at offsets 0, 1, 2...
  const inZero = range(0, 10).filter((seq) => seq % f.partitions === 0);
  const invalid = expect.objectContaining({ code: 'invalid-options' });

  expect(await run(10)).toEqual(range(0, 10));
  await expect(broker.resetOffsets({ group, topic, to: { offset: 1 } })).rejects.toThrowError(invalid);
  await expect(broker.resetOffsets({ group, topic, partition: 0, to: { offset: inZero.length + 1 } })).rejects.toThrowError(invalid);
  await expect(broker.resetOffsets({ group, topic, partition: 0, to: { offset: -1 } })).rejects.toThrowError(invalid);
  await expect(broker.resetOffsets({ group, topic, partition: f.partitions, to: 'earliest' })).rejects.toThrowError(invalid);
  await broker.resetOffsets({ group, topic, partition: 0, to: { offset: 1 } });
  expect(await run(inZero.length - 1)).toEqual(inZero.slice(1));
  await broker.resetOffsets({ group, topic, partition: 0, to: 'earliest' });
  expect(await run(inZero.length)).toEqual(inZero);
  // the end itself: read only what comes next
  await broker.resetOffsets({ group, topic, to: 'earliest' });
  await broker.resetOffsets({ group, topic, partition: 0, to: { offset: inZero.length } });
  expect(await run(10 - inZero.length)).toEqual(range(0, 10).filter((seq) => seq % f.partitions !== 0));
}
