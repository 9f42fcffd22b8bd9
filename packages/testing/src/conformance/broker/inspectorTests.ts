import { canEnsureTopics, canInspect, partitionForKey, type Broker, type BrokerInspector, type PartitionLag } from '@herald/core';
import { expect } from 'vitest';
import { uniqueName } from '../suiteTests.js';
import type { BrokerFixture } from './fixture.js';
import { committedCount } from './testConsumer.js';

/**
 * What the tests inspect through: a second handle when the harness makes one (it never subscribes,
 * so it reads the log as an operator's tool in another process does), else the broker itself.
 */
async function inspector(f: BrokerFixture): Promise<Broker & BrokerInspector> {
  const via = f.harness.newMember ? await f.member() : f.broker;
  if (!canInspect(via)) throw new Error('the broker under test has no describeTopics/listGroups/describeGroup (canInspect is false)');
  return via;
}

/** Publishes `counts[p]` records to each partition `p` of `topic`. */
async function fill(f: BrokerFixture, topic: string, counts: readonly number[]): Promise<void> {
  for (let p = 0; p < counts.length; p++) {
    const [key] = f.keysIn(p);
    await f.broker.publish(Array.from({ length: counts[p]! }, (_, i) => f.record(topic, key!, i)));
  }
}

const perPartition = (f: BrokerFixture, count: (p: number) => number) => Array.from({ length: f.partitions }, (_, p) => count(p));
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Topics come in name order with every partition's retained range; unknown names are left out. */
export async function describesTopics(f: BrokerFixture): Promise<void> {
  const [a, b] = [await f.topic(), await f.topic()].sort();
  const counts = perPartition(f, (p) => 2 * p + 1);
  await fill(f, a!, counts);
  const inspect = await inspector(f);
  const described = await inspect.describeTopics([b!, uniqueName('missing'), a!]);
  expect(described.map((t) => t.name)).toEqual([a, b]);
  expect(described[0]!.partitions).toEqual(counts.map((end, partition) => ({ partition, start: 0, end })));
  expect(described[1]!.partitions).toEqual(counts.map((_, partition) => ({ partition, start: 0, end: 0 })));
  for (const topic of described) {
    expect(topic.retentionMs === null || topic.retentionMs > 0, 'retentionMs is positive or null').toBe(true);
    expect(topic.retentionBytes === null || topic.retentionBytes > 0, 'retentionBytes is positive or null').toBe(true);
  }
  const all = (await inspect.describeTopics()).map((t) => t.name);
  expect(all).toEqual(expect.arrayContaining([a, b]));
  expect(all, 'every topic, in name order').toEqual([...all].sort());
  expect(await inspect.describeTopics([uniqueName('missing')])).toEqual([]);
}

/** A topic declared with retention reports it. */
export async function reportsRetention(f: BrokerFixture): Promise<void> {
  if (!canEnsureTopics(f.broker)) throw new Error(`the adapter declares 'retention' but its broker has no ensureTopics()`);
  const name = uniqueName('retained');
  await f.broker.ensureTopics([{ name, partitions: f.partitions, replicationFactor: 1, retentionMs: 3_600_000, retentionBytes: 1_048_576 }]);
  const [topic] = await (await inspector(f)).describeTopics([name]);
  expect(topic).toMatchObject({ name, retentionMs: 3_600_000, retentionBytes: 1_048_576 });
  expect(topic!.partitions).toHaveLength(f.partitions);
}

/** Subscribes, receives everything, commits `cut(p)` records of each partition `p`, closes; returns what was committed. */
async function commitPart(f: BrokerFixture, topic: string, group: string, total: number, cut: (p: number) => number): Promise<number[]> {
  const consumer = await f.consume({ group, topic, autoCommit: false });
  await f.waitFor(`${total} deliveries`, () => consumer.deliveries.length >= total);
  const committed = perPartition(f, (p) => (cut(p) === 0 ? 0 : consumer.of(p)[cut(p) - 1]!.offset + 1));
  for (let p = 0; p < f.partitions; p++) await consumer.commit(p, committed[p]!);
  await f.within('closing the subscription', consumer.close());
  return committed;
}

async function describeIdle(f: BrokerFixture, inspect: BrokerInspector, group: string) {
  await f.waitFor(`group ${group} to have no live member`, async () => (await inspect.describeGroup(group)).members === 0);
  return inspect.describeGroup(group);
}

/** With nobody running the group: exactly what it committed, each partition's end, and the difference. */
export async function reportsLag(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const counts = perPartition(f, (p) => 4 + 2 * p);
  await fill(f, topic, counts);
  const committed = await commitPart(f, topic, group, sum(counts), (p) => p + 1);
  expect(committed).toEqual(perPartition(f, (p) => p + 1));

  const inspect = await inspector(f);
  const expected: PartitionLag[] = counts.map((end, partition) => ({ topic, partition, committed: committed[partition]!, end, lag: end - committed[partition]! }));
  expect(await describeIdle(f, inspect, group)).toEqual({ group, members: 0, partitions: expected, totalLag: sum(expected.map((p) => p.lag)) });
  expect(await inspect.listGroups()).toContain(group);
}

/** Partitions added after the group last ran: committed null, lag = end - start, while its old partitions stay as committed. */
export async function reportsNeverCommitted(f: BrokerFixture): Promise<void> {
  if (!canEnsureTopics(f.broker)) throw new Error(`the adapter declares 'partition-growth' but its broker has no ensureTopics()`);
  const topic = await f.topic();
  const group = f.group();
  const counts = perPartition(f, () => 3);
  await fill(f, topic, counts);
  const consumer = await f.consume({ group, topic });
  await f.waitFor('everything delivered and committed', () => committedCount(consumer) >= sum(counts));
  await f.within('closing the subscription', consumer.close());

  const grown = f.partitions + 2;
  await f.broker.ensureTopics([{ name: topic, partitions: grown, replicationFactor: 1 }]);
  const added = [5, 2];
  for (const [i, count] of added.entries()) {
    let n = 0;
    while (partitionForKey(`grown-${n}`, grown) !== f.partitions + i) n++;
    await f.broker.publish(Array.from({ length: count }, (_, seq) => f.record(topic, `grown-${n}`, seq)));
  }

  const inspect = await inspector(f);
  const [grownTopic] = await inspect.describeTopics([topic]);
  expect(grownTopic!.partitions.map((p) => p.end)).toEqual([...counts, ...added]);
  const description = await describeIdle(f, inspect, group);
  const old = counts.map((end, partition): PartitionLag => ({ topic, partition, committed: end, end, lag: 0 }));
  const fresh = added.map((end, i): PartitionLag => {
    const partition = f.partitions + i;
    return { topic, partition, committed: null, end, lag: end - grownTopic!.partitions[partition]!.start };
  });
  expect(description).toEqual({ group, members: 0, partitions: [...old, ...fresh], totalLag: sum(fresh.map((p) => p.lag)) });
  expect(fresh.map((p) => p.lag), 'nothing was deleted: everything retained').toEqual(added);
}

/**
 * With `topics` named, every partition of those that exist is described, committed or not: a
 * group whose member received everything but never committed (its first handler failing over and
 * over) lags by all it retains, where without `topics` it may have no partitions at all. An engine
 * that stores a group's start position when a member takes a partition reports it as `committed`.
 */
export async function describesNamedTopics(f: BrokerFixture): Promise<void> {
  const [held, stuck] = [await f.topic(), await f.topic()];
  const group = f.group();
  const counts = perPartition(f, (p) => 2 + p);
  await fill(f, held!, counts);
  await fill(f, stuck!, counts);
  const committed = await commitPart(f, held!, group, sum(counts), () => 1);
  const inspect = await inspector(f);
  const [stuckTopic] = await inspect.describeTopics([stuck!]);
  const starts = stuckTopic!.partitions.map((p) => p.start);

  // a member that receives everything and never commits, as a handler that keeps failing would
  const consumer = await f.consume({ group, topic: stuck!, start: 'earliest', autoCommit: false });
  await f.waitFor(`${sum(counts)} deliveries`, () => consumer.deliveries.length >= sum(counts));
  const missing = uniqueName('missing');
  const running = await inspect.describeGroup(group, { topics: [stuck!, missing] });
  expect(running.partitions.every((p) => p.topic === held || p.topic === stuck), 'a topic named that does not exist adds nothing').toBe(true);
  expect(await inspect.describeTopics([missing]), 'nor is it created by being named').toEqual([]);
  const stuckPartitions = running.partitions.filter((p) => p.topic === stuck);
  expect(stuckPartitions.map((p) => [p.partition, p.end, p.lag])).toEqual(counts.map((end, partition) => [partition, end, end - starts[partition]!]));
  for (const p of stuckPartitions) expect([null, starts[p.partition]], 'never committed: null, or the start position the engine stored').toContain(p.committed);
  await f.within('closing the subscription', consumer.close());

  await describeIdle(f, inspect, group);
  const heldPartitions = counts.map((end, partition): PartitionLag => ({ topic: held!, partition, committed: committed[partition]!, end, lag: end - committed[partition]! }));
  const named = await inspect.describeGroup(group, { topics: [stuck!] });
  expect(named.partitions.filter((p) => p.topic === held), 'the topics it committed on stay described').toEqual(heldPartitions);
  const inOrder = [...heldPartitions, ...stuckPartitions].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  expect(named.partitions.map((p) => [p.topic, p.partition, p.lag]), 'in topic then partition order').toEqual(inOrder.map((p) => [p.topic, p.partition, p.lag]));
  expect(named.totalLag).toBe(sum(named.partitions.map((p) => p.lag)));

  const never = uniqueName('never-ran');
  const fresh = await inspect.describeGroup(never, { topics: [stuck!] });
  expect(fresh).toEqual({
    group: never,
    members: 0,
    partitions: counts.map((end, partition): PartitionLag => ({ topic: stuck!, partition, committed: null, end, lag: end - starts[partition]! })),
    totalLag: sum(counts.map((end, partition) => end - starts[partition]!)),
  });
  expect(await inspect.describeGroup(never), 'without topics, only what it committed on: nothing').toEqual({ group: never, members: 0, partitions: [], totalLag: 0 });
}

/**
 * A group starting at 'latest' that joins after records were written, and has nothing new to read,
 * lags by nothing: its start is its position (stored when it takes a partition), not the records
 * before it, which it will never read (a false lag alert on a healthy idle group otherwise).
 */
export async function countsLatestStart(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  await fill(f, topic, perPartition(f, (p) => 3 + p));
  const group = f.group();
  const consumer = await f.consume({ group, topic, start: 'latest', autoCommit: false });
  await f.waitFor('every partition assigned', () => consumer.owned.size === f.partitions);
  const inspect = await inspector(f);
  await f.waitFor('no lag for what came before the group', async () => (await inspect.describeGroup(group, { topics: [topic] })).totalLag === 0);
  const described = await inspect.describeGroup(group, { topics: [topic] });
  expect(described.partitions.map((p) => [p.partition, p.lag])).toEqual(perPartition(f, () => 0).map((lag, partition) => [partition, lag]));
  expect(consumer.deliveries).toEqual([]);
  await f.within('closing the subscription', consumer.close());
}

/** Members are counted while their subscriptions are open, through another handle too, and not after they close. */
export async function countsLiveMembers(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const inspect = await inspector(f);
  const members = async () => (await inspect.describeGroup(group)).members;
  const first = await f.consume({ group, topic });
  const second = await f.consume({ group, topic }, await f.member());
  await f.waitFor('two live members', async () => (await members()) === 2);
  expect(await inspect.listGroups(), 'a group with live members is listed').toContain(group);
  await f.within('closing the first subscription', first.close());
  await f.waitFor('one live member', async () => (await members()) === 1);
  await f.within('closing the second subscription', second.close());
  await f.waitFor('no live member', async () => (await members()) === 0);
  expect(await members()).toBe(0);
}

/** Every group that committed is listed, in name order. */
export async function listsGroups(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  await fill(f, topic, perPartition(f, () => 1));
  const groups = [f.group(), f.group(), f.group()].sort(); // joined in reverse name order below
  for (const group of [...groups].reverse()) {
    const consumer = await f.consume({ group, topic });
    await f.waitFor(`group ${group} to commit everything`, () => committedCount(consumer) >= f.partitions);
    await f.within('closing the subscription', consumer.close());
  }
  const listed = await (await inspector(f)).listGroups();
  expect(listed, 'in name order').toEqual([...listed].sort());
  expect(listed.filter((g) => groups.includes(g))).toEqual([...groups].sort());
}

/** A group nobody ever ran has no members and no partitions, and is not listed. */
export async function describesUnknownGroup(f: BrokerFixture): Promise<void> {
  const group = uniqueName('never-ran');
  const inspect = await inspector(f);
  expect(await inspect.describeGroup(group)).toEqual({ group, members: 0, partitions: [], totalLag: 0 });
  expect(await inspect.listGroups()).not.toContain(group);
}
