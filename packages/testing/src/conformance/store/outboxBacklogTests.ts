import type { OutboxBacklog, OutboxRecord, OutboxStore, Stores } from '@herald/core';
import { expect } from 'vitest';
import { ids, whileAppendIsOpen, type StoreFixture } from './fixture.js';

/** Stores whose outbox reports its backlog. */
export type BacklogStores<Tx> = Stores<Tx> & { readonly outbox: OutboxStore<Tx> & OutboxBacklog };
type F<Tx> = StoreFixture<Tx, BacklogStores<Tx>>;

async function append<Tx>(f: F<Tx>, records: readonly OutboxRecord[]): Promise<void> {
  await f.stores.transaction((tx) => f.stores.outbox.append(tx, records));
}

/** One entry per topic with pending records, in topic order, counting each record once, with the oldest append time. */
export async function countsPerTopic<Tx>(f: F<Tx>): Promise<void> {
  expect(await f.stores.outbox.backlog(), 'an empty outbox').toEqual([]);
  const t0 = f.clock.now();
  const first = f.record('a', { topic: 'orders' });
  await append(f, [first]);
  await f.clock.advance(1000);
  await append(f, [f.record('b', { topic: 'payments' })]);
  await f.clock.advance(1000);
  await append(f, [f.record('a', { topic: 'orders' }), f.record('c', { topic: 'audit' })]);
  await f.clock.advance(1000);
  await append(f, [f.record('b', { topic: 'payments' }), first]); // `first` again: kept once
  expect(await f.stores.outbox.backlog()).toEqual([
    { topic: 'audit', pending: 1, oldestCreatedAt: t0 + 2000 },
    { topic: 'orders', pending: 2, oldestCreatedAt: t0 },
    { topic: 'payments', pending: 2, oldestCreatedAt: t0 + 1000 },
  ]);
}

/** Claimed and released records still wait; published ones leave the backlog, and a topic with none left disappears. */
export async function dropsPublished<Tx>(f: F<Tx>): Promise<void> {
  const t0 = f.clock.now();
  const o1 = f.record('a', { topic: 'orders' });
  await f.clock.advance(1000);
  const [p1, o2] = [f.record('b', { topic: 'payments' }), f.record('c', { topic: 'orders' })];
  await f.clock.advance(1000);
  const p2 = f.record('d', { topic: 'payments' });
  await append(f, [o1, p1!, o2!, p2]);

  expect(ids(await f.claim('relay-a')), 'claimed, not yet published').toEqual(ids([o1, p1!, o2!, p2]));
  const claimedBacklog = [
    { topic: 'orders', pending: 2, oldestCreatedAt: t0 },
    { topic: 'payments', pending: 2, oldestCreatedAt: t0 + 1000 },
  ];
  expect(await f.stores.outbox.backlog()).toEqual(claimedBacklog);
  await f.stores.outbox.release('relay-a', ids([p1!]));
  expect(await f.stores.outbox.backlog(), 'released, still waiting').toEqual(claimedBacklog);

  await f.stores.outbox.markPublished('relay-a', ids([o1]));
  expect(await f.stores.outbox.backlog(), 'the oldest of orders published').toEqual([
    { topic: 'orders', pending: 1, oldestCreatedAt: t0 + 1000 },
    { topic: 'payments', pending: 2, oldestCreatedAt: t0 + 1000 },
  ]);
  await f.stores.outbox.markPublished('relay-a', ids([p1!, p2]));
  expect(await f.stores.outbox.backlog(), 'payments fully published').toEqual([{ topic: 'orders', pending: 1, oldestCreatedAt: t0 + 1000 }]);
  await f.stores.outbox.markPublished('relay-a', ids([o2!]));
  expect(await f.stores.outbox.backlog()).toEqual([]);
}

/** Records appended in a transaction count only once it commits; a rolled-back append never counts. */
export async function ignoresRolledBack<Tx>(f: F<Tx>): Promise<void> {
  const failing = f.stores.transaction(async (tx) => {
    await f.stores.outbox.append(tx, [f.record('ghost', { topic: 'ghosts' }), f.record('a', { topic: 'orders' })]);
    throw new Error('the handler failed');
  });
  await expect(failing).rejects.toThrow('the handler failed');
  expect(await f.stores.outbox.backlog(), 'nothing committed').toEqual([]);

  const committed = f.record('b', { topic: 'orders' });
  let seenInside: unknown;
  const results = await Promise.allSettled([
    f.stores.transaction(async (tx) => {
      await f.stores.outbox.append(tx, [committed]);
      seenInside = await f.stores.outbox.backlog();
    }),
    f.stores.transaction(async (tx) => {
      await f.stores.outbox.append(tx, [f.record('ghost-2', { topic: 'ghosts' })]);
      throw new Error('rolled back');
    }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  expect(seenInside, 'an open transaction’s records are not pending yet').toEqual([]);
  expect(await f.stores.outbox.backlog()).toEqual([{ topic: 'orders', pending: 1, oldestCreatedAt: committed.createdAt }]);
}

/**
 * A transaction that appended earlier commits later: T1 appends r1 (orders) and stays open while T2
 * appends r2 (payments) and commits, and a relay claims and publishes what it gets meanwhile (r2,
 * or nothing where the store holds claims back behind the open transaction). r1 is not counted
 * while T1 is open; once T1 commits it is pending until it is published, then the backlog is empty.
 */
export async function countsPastAnOpenTransaction<Tx>(f: F<Tx>): Promise<void> {
  const r1 = f.record('early', { topic: 'orders' });
  const r2 = f.record('late', { topic: 'payments' });
  const r2Pending = { topic: 'payments', pending: 1, oldestCreatedAt: r2.createdAt };
  let r2Published = false;
  await whileAppendIsOpen(f, [r1], async (commit) => {
    await append(f, [r2]);
    expect(await f.stores.outbox.backlog(), 'T1 open: only r2').toEqual([r2Pending]);
    const meanwhile = await f.claim('relay-a');
    expect(ids(meanwhile), 'while T1 is open: r2 or nothing').toEqual(ids(meanwhile).includes(r2.id) ? [r2.id] : []);
    await f.stores.outbox.markPublished('relay-a', ids(meanwhile));
    r2Published = meanwhile.length > 0;
    expect(await f.stores.outbox.backlog(), 'T1 still open: r2 while it is unpublished').toEqual(r2Published ? [] : [r2Pending]);
    await commit();
  });
  const r1Pending = { topic: 'orders', pending: 1, oldestCreatedAt: r1.createdAt };
  expect(await f.stores.outbox.backlog(), 'T1 committed: r1 pending').toEqual(r2Published ? [r1Pending] : [r1Pending, r2Pending]);
  const claimed = await f.claim('relay-b');
  expect(ids(claimed).sort(), 'r1 claimed after its transaction committed').toEqual((r2Published ? [r1.id] : [r1.id, r2.id]).sort());
  expect(await f.stores.outbox.backlog(), 'claimed, not yet published').toEqual(r2Published ? [r1Pending] : [r1Pending, r2Pending]);
  await f.stores.outbox.markPublished('relay-b', ids(claimed));
  expect(await f.stores.outbox.backlog(), 'everything published').toEqual([]);
}
