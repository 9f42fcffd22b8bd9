import { expect } from 'vitest';
import type { BrokerFixture } from './fixture.js';
import { committedCount, decode, type TestConsumer } from './testConsumer.js';

const seqs = (consumer: TestConsumer, partition?: number) =>
  (partition === undefined ? consumer.deliveries : consumer.of(partition)).map((d) => decode(d).seq);

/** Two groups on one topic each receive every record. */
export async function everyGroupSeesEverything(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  await f.broker.publish(Array.from({ length: 30 }, (_, i) => f.record(topic, `k${i % 6}`, i)));
  const a = await f.consume({ group: f.group(), topic });
  const b = await f.consume({ group: f.group(), topic });
  await f.waitFor('30 deliveries in each group', () => a.deliveries.length >= 30 && b.deliveries.length >= 30);
  const all = Array.from({ length: 30 }, (_, i) => i);
  expect(seqs(a).sort((x, y) => x - y)).toEqual(all);
  expect(seqs(b).sort((x, y) => x - y)).toEqual(all);
}

/**
 * Everything committed (as a sink does it: in `revoked`, while the subscription closes): the
 * group's next subscription gets only newer records.
 */
export async function resumesFromCommit(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  await f.broker.publish(Array.from({ length: 20 }, (_, i) => f.record(topic, `k${i % 5}`, i)));
  const first = await f.consume({ group, topic, autoCommit: false, commitOnRevoke: true });
  await f.waitFor('20 deliveries', () => first.deliveries.length >= 20);
  await f.within('closing the first subscription', first.close());
  expect(committedCount(first), 'committed in revoked').toBe(20);

  await f.broker.publish(Array.from({ length: 10 }, (_, i) => f.record(topic, `k${i % 5}`, 20 + i)));
  const second = await f.consume({ group, topic });
  await f.waitFor('the 10 new records', () => second.deliveries.length >= 10);
  await new Promise((resolve) => setTimeout(resolve, 50)); // room for a wrongly redelivered record to show
  expect(seqs(second).sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i));
}

/** Half of each partition committed, then closed: the next subscription starts exactly at each commit. */
export async function redeliversUncommitted(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const keys = Array.from({ length: f.partitions }, (_, p) => f.keysIn(p)[0]!);
  await f.broker.publish(Array.from({ length: 8 * keys.length }, (_, i) => f.record(topic, keys[i % keys.length]!, i)));
  const first = await f.consume({ group, topic, autoCommit: false });
  await f.waitFor('every record once', () => first.deliveries.length >= 8 * keys.length);
  const cut = new Map<number, number>();
  for (let p = 0; p < f.partitions; p++) {
    const delivered = first.of(p);
    cut.set(p, delivered[3]!.offset + 1);
    await first.commit(p, delivered[3]!.offset + 1);
  }
  await f.within('closing the first subscription', first.close());

  const second = await f.consume({ group, topic });
  await f.waitFor('the uncommitted half again', () => second.deliveries.length >= 4 * keys.length);
  for (let p = 0; p < f.partitions; p++) {
    expect(second.of(p)[0]?.offset, `partition ${p} resumes at its commit`).toBe(cut.get(p));
    expect(seqs(second, p), `partition ${p}`).toEqual(seqs(first, p).slice(4));
  }
}

/**
 * Records and commits survive closing and reopening the broker: ten records in every partition, a
 * different cut committed in each, so a broker keeping one commit per group (not per partition)
 * or mixing partitions up fails. The old group resumes at each cut; a new group gets everything.
 */
export async function persistsAcrossReopen(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const keys = Array.from({ length: f.partitions }, (_, p) => f.keysIn(p)[0]!);
  const cutOf = (p: number) => 2 + ((3 * p) % 7); // 2, 5, 8, 4, 7, 3, 6: a different cut in each of up to 7 partitions
  for (const [p, key] of keys.entries()) await f.broker.publish(Array.from({ length: 10 }, (_, i) => f.record(topic, key, p * 100 + i)));
  const first = await f.consume({ group, topic, autoCommit: false });
  await f.waitFor('10 deliveries in every partition', () => keys.every((_, p) => first.of(p).length >= 10));
  for (let p = 0; p < f.partitions; p++) await first.commit(p, first.of(p)[cutOf(p) - 1]!.offset + 1);
  await f.within('closing the subscription', first.close());

  await f.reopen();
  const resumed = await f.consume({ group, topic });
  const replayed = await f.consume({ group: f.group(), topic });
  const left = keys.reduce((sum, _, p) => sum + 10 - cutOf(p), 0);
  await f.waitFor('the rest for the old group, everything for a new one', () => resumed.deliveries.length >= left && replayed.deliveries.length >= 10 * keys.length);
  for (let p = 0; p < f.partitions; p++) {
    const all = Array.from({ length: 10 }, (_, i) => p * 100 + i);
    expect(seqs(resumed, p), `partition ${p} resumes at its own cut`).toEqual(all.slice(cutOf(p)));
    expect(seqs(replayed, p), `partition ${p} for a new group`).toEqual(all);
  }
}
