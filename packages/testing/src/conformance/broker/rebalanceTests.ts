import { expect } from 'vitest';
import type { Broker } from '@herald/core';
import type { BrokerFixture } from './fixture.js';
import { committedCount, decode, type TestConsumer } from './testConsumer.js';

const seqs = (c: TestConsumer, p: number) => c.of(p).map((d) => decode(d).seq);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function split(f: BrokerFixture, a: TestConsumer, b: TestConsumer): boolean {
  if (a.owned.size === 0 || b.owned.size === 0 || a.owned.size + b.owned.size !== f.partitions) return false;
  return [...a.owned].every((p) => !b.owned.has(p));
}

/** Member `a` owns everything, then `b` joins and the group settles with both owning some partitions. */
async function twoMembers(f: BrokerFixture, group: string, topic: string, via: Broker): Promise<[TestConsumer, TestConsumer]> {
  const a = await f.consume({ group, topic });
  await f.waitFor('the first member to be assigned every partition', () => a.owned.size === f.partitions);
  const b = await f.consume({ group, topic }, via);
  await f.waitFor('the two members to split the partitions', () => split(f, a, b));
  return [a, b];
}

/** Publishes `perPartition` records in every partition with seqs `round * 100 + i`. */
async function publishRound(f: BrokerFixture, topic: string, round: number, perPartition = 3): Promise<void> {
  for (let p = 0; p < f.partitions; p++) {
    const key = f.keysIn(p)[0]!;
    await f.broker.publish(range(0, perPartition).map((i) => f.record(topic, key, round * 100 + i)));
  }
}

/**
 * Two members of one group own disjoint partitions and each receives exactly the records of its
 * own: the (partition, seq) pairs each member got are those published to its partitions, once each.
 */
export async function splitsPartitions(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const [a, b] = await twoMembers(f, f.group(), topic, await f.member());
  const ownedA = new Set(a.owned);
  await publishRound(f, topic, 1);
  await f.waitFor('every record in one member or the other', () => a.deliveries.length + b.deliveries.length >= 3 * f.partitions);
  const pairs = (c: TestConsumer) => c.deliveries.map((d) => `${d.partition}/${decode(d).seq}`).sort();
  const published = range(0, f.partitions).flatMap((p) => range(100, 103).map((seq) => ({ p, pair: `${p}/${seq}` })));
  expect(pairs(a), 'the first member: its partitions’ records, once each').toEqual(published.filter(({ p }) => ownedA.has(p)).map(({ pair }) => pair).sort());
  expect(pairs(b), 'the second member: the others’, once each').toEqual(published.filter(({ p }) => !ownedA.has(p)).map(({ pair }) => pair).sort());
  expect([...a.owned].sort()).toEqual([...ownedA].sort());
}

/**
 * A member joins while the other is busy: `a` owns every partition and holds the first deliver of
 * each, so whichever partitions move have work in flight; `b` joins. A moving partition is revoked
 * from `a` before `b` gets it: `a`'s sink finishes its held batch as `revoked` starts and commits
 * what it received (`commitOnRevoke`). `b` receives nothing of it before that `revoked` resolved, no
 * partition is ever being delivered to both members at once, and `b` starts exactly at `a`'s commit:
 * together they got each record of a moved partition once, in order. (A broker that waited for the
 * held deliver before calling `revoked` would stall here: the sink finishes in-flight work in `revoked`.)
 */
export async function handsOverOnJoin(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const overlaps: string[] = [];
  let joiner: TestConsumer | undefined;
  const a = await f.consume({
    group,
    topic,
    autoCommit: false,
    commitOnRevoke: true,
    onDeliver: ({ partition }) => {
      if ((joiner?.inFlight(partition) ?? 0) > 0) overlaps.push(`partition ${partition} delivered to the first member while the second had it`);
    },
  });
  await f.waitFor('the first member to be assigned every partition', () => a.owned.size === f.partitions);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  a.gate = () => released;
  a.onRevoke = () => release();
  await publishRound(f, topic, 1);
  await f.waitFor('a deliver in flight in every partition of the first member', () => range(0, f.partitions).every((p) => a.inFlight(p) === 1));
  await publishRound(f, topic, 2); // waits behind the held delivers

  const joined = await f.consume(
    {
      group,
      topic,
      onDeliver: ({ partition }, self) => {
        joiner = self;
        if (!a.revokedDone()) overlaps.push(`partition ${partition} delivered to the second member before the first member’s revoked finished`);
        if (a.inFlight(partition) > 0) overlaps.push(`partition ${partition} delivered to the second member while the first member’s deliver of it was pending`);
      },
    },
    await f.member(),
  );
  await f.waitFor('the two members to split the partitions', () => split(f, a, joined));
  const moved = [...joined.owned].sort();
  const kept = [...a.owned].sort();
  await f.waitFor('rounds 1 and 2 of every partition in one member or the other', () =>
    moved.every((p) => a.of(p).length + joined.of(p).length >= 6) && kept.every((p) => a.of(p).length >= 6),
  );

  expect(overlaps, 'no partition in two members at once').toEqual([]);
  expect(a.revokedCalls.flat(), 'the moved partitions were revoked from the first member').toEqual(expect.arrayContaining(moved));
  for (const p of moved) {
    const held = a.of(p);
    expect(held.length, `partition ${p} was busy in the first member`).toBeGreaterThan(0);
    expect(joined.of(p)[0]?.offset, `partition ${p} starts at the commit made in revoked`).toBe(held.at(-1)!.offset + 1);
    expect([...seqs(a, p), ...seqs(joined, p)], `partition ${p}: each record once, in order`).toEqual([...range(100, 103), ...range(200, 203)]);
  }
  for (const p of kept) {
    expect(seqs(a, p), `partition ${p}, never moved`).toEqual([...range(100, 103), ...range(200, 203)]);
    expect(joined.of(p), `partition ${p} never reached the second member`).toEqual([]);
  }
}

/**
 * Two members share the group; the second commits round 1, receives round 2 without committing,
 * then leaves (`close`) or dies (`kill`). The first member gets its partitions from the second's
 * last commit: round 2 again, then round 3; nothing is lost.
 */
export async function takesOverPartitions(f: BrokerFixture, how: 'leave' | 'die'): Promise<void> {
  const { harness } = f;
  if (how === 'die' && !(harness.newMember && harness.kill)) {
    throw new Error(`the adapter declares 'rebalance' but create() returned no newMember() and kill(); add them or skip this test with a reason`);
  }
  const topic = await f.topic();
  const via = await f.member();
  const [a, b] = await twoMembers(f, f.group(), topic, via);
  const partsA = [...a.owned];
  const partsB = [...b.owned];

  await publishRound(f, topic, 1);
  await f.waitFor('round 1 processed and committed', () => committedCount(a) + committedCount(b) >= 3 * f.partitions);
  b.autoCommit = false;
  await publishRound(f, topic, 2);
  await f.waitFor('round 2 delivered', () => a.deliveries.length + b.deliveries.length >= 6 * f.partitions);
  const lastCommit = new Map(partsB.map((p) => [p, b.committed.get(p)]));

  if (how === 'leave') await f.within('the second member leaving', b.close());
  else await f.within('killing the second member', harness.kill!(via));
  await f.waitFor('the first member to be assigned every partition', () => a.owned.size === f.partitions);
  await publishRound(f, topic, 3);
  await f.waitFor('round 3 everywhere, round 2 again in the moved partitions', () => partsB.every((p) => a.of(p).length >= 6) && partsA.every((p) => a.of(p).length >= 9));

  if (how === 'leave') expect(b.revokedCalls.flat().sort(), 'revoked on leave').toEqual(expect.arrayContaining(partsB));
  for (const p of partsB) {
    expect(a.of(p)[0]?.offset, `partition ${p} resumes at the last commit`).toBe(lastCommit.get(p));
    expect(seqs(a, p), `partition ${p} after the move`).toEqual([...range(200, 203), ...range(300, 303)]);
    expect(seqs(b, p), `partition ${p} before the move`).toEqual([...range(100, 103), ...range(200, 203)]);
  }
  for (const p of partsA) expect(seqs(a, p), `partition ${p}, never moved`).toEqual([...range(100, 103), ...range(200, 203), ...range(300, 303)]);
}

/**
 * More members than partitions: every member is told when its first assignment settled, including
 * a member given nothing (`assigned([])`), which is how a consumer knows it is ready.
 */
export async function tellsIdleMembers(f: BrokerFixture): Promise<void> {
  const topic = await f.topic();
  const group = f.group();
  const first = await f.consume({ group, topic });
  await f.waitFor('the first member to be assigned every partition', () => first.owned.size === f.partitions);
  const members = [first];
  for (let i = 0; i < f.partitions; i++) members.push(await f.consume({ group, topic }, await f.member()));
  const settled = () => {
    const owners = members.flatMap((m) => [...m.owned]);
    return owners.length === f.partitions && new Set(owners).size === f.partitions;
  };
  await f.waitFor('every member told of its assignment and the partitions owned once each', () => members.every((m) => m.assignedCalls.length > 0) && settled());
  const idle = members.filter((m) => m.owned.size === 0);
  expect(idle.length, 'more members than partitions leaves one idle').toBeGreaterThanOrEqual(1);
  for (const member of idle) expect(member.assignedCalls.length, 'an idle member still hears of its assignment').toBeGreaterThan(0);
  expect(members.every((m) => m.assignedCalls.flat().every((p) => p >= 0 && p < f.partitions))).toBe(true);
}
