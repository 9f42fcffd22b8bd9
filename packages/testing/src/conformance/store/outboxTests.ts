import { uuidv7, type OutboxRecord } from '@herald/core';
import { expect } from 'vitest';
import { waitFor } from '../suiteTests.js';
import { ids, outboxFields, whileAppendIsOpen, type StoreFixture } from './fixture.js';

async function append<Tx>(f: StoreFixture<Tx>, records: readonly OutboxRecord[]): Promise<void> {
  await f.stores.transaction((tx) => f.stores.outbox.append(tx, records));
}

/** Claims come in append order, up to the limit; a key another relay holds stays back until marked. */
export async function claimsInOrder<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const [a1, b1, c1, a2, b2] = [f.record('a'), f.record('b'), f.record('c'), f.record('a'), f.record('b')];
  await append(f, [a1!, b1!]);
  await append(f, [c1!]);
  await append(f, [a2!, b2!]);
  expect(ids(await f.claim('relay-a', 3))).toEqual(ids([a1!, b1!, c1!]));
  expect(ids(await f.claim('relay-b')), 'keys a, b, c are held by relay-a').toEqual([]);
  await f.stores.outbox.markPublished('relay-a', ids([a1!, b1!, c1!]));
  expect(ids(await f.claim('relay-b'))).toEqual(ids([a2!, b2!]));
  await f.stores.outbox.markPublished('relay-b', ids([a2!, b2!]));
  expect(await f.claim('relay-a'), 'published records are never claimed again').toEqual([]);
  expect(await f.claim('relay-b')).toEqual([]);
}

/**
 * One call appends 130 records of 7 keys: claims return them all, in append order, across the
 * store's statements or round trips.
 */
export async function appendsManyInOrder<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const records = Array.from({ length: 130 }, (_, i) => f.record(`key-${i % 7}`));
  await append(f, records);
  const claimed: OutboxRecord[] = [];
  for (let round = 0; round < 3 && claimed.length < records.length; round++) {
    const claim = await f.claim('relay-a', 100);
    claimed.push(...claim);
    await f.stores.outbox.markPublished('relay-a', ids(claim));
  }
  expect(ids(claimed)).toEqual(ids(records));
  expect(await f.claim('relay-b')).toEqual([]);
}

/**
 * A relay holding a key back (a record of it refused for good) skips it in its claims: with 30
 * records of it around 100 single-record keys, claims of 10 return the other keys, in append order
 * (past however many of it wait, and from its own slot or group of keys too: a hundred keys share
 * one with it); marking them publishes none of it. A claim without the skip then returns all of
 * it, from the oldest, in order.
 */
export async function skipsHeldKeys<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const hot = Array.from({ length: 30 }, () => f.record('hot', { correlationId: 'held' }));
  const others = Array.from({ length: 100 }, (_, i) => f.record(`key-${i}`));
  // interleaved: the skipped records lie before, between and after the claimed ones
  await append(f, hot.slice(0, 10));
  await append(f, others.slice(0, 50));
  await append(f, hot.slice(10));
  await append(f, others.slice(50));
  const claim = (limit: number, skipKeys?: readonly string[]) => f.stores.outbox.claim({ relayId: 'relay-a', limit, leaseMs: 60_000, ...(skipKeys && { skipKeys }) });
  for (let round = 0; round < 10; round++) {
    const claimed = await claim(10, ['hot', 'absent']);
    expect(ids(claimed), `round ${round}`).toEqual(ids(others.slice(round * 10, round * 10 + 10)));
    await f.stores.outbox.markPublished('relay-a', ids(claimed));
  }
  expect(await claim(10, ['hot'])).toEqual([]);
  const held = await f.stores.outbox.findByCorrelation('held');
  expect(held.map((e) => e.publishedAt), 'nothing of the skipped key is published').toEqual(Array(30).fill(null));
  const rest = await claim(100);
  expect(ids(rest)).toEqual(ids(hot));
  await f.stores.outbox.markPublished('relay-a', ids(rest));
  expect(await claim(100)).toEqual([]);
  expect((await f.stores.outbox.findByCorrelation('held')).every((e) => e.publishedAt !== null)).toBe(true);
}

/**
 * Three relays claim 30 single-record keys, two of them at once: no record goes to two relays and
 * each claim is in append order. A store may hold back more than the keys a relay claimed (a
 * store leasing groups of keys holds their other records too): once the three have published what
 * they claimed, a fourth relay gets everything left, so nothing is held for good.
 */
export async function claimsExclusively<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const records = Array.from({ length: 30 }, (_, i) => f.record(`key-${i}`));
  await append(f, records);
  const [a, b] = await Promise.all([f.claim('relay-a', 12), f.claim('relay-b', 12)]);
  const c = await f.claim('relay-c', 100);
  const all = [...ids(a), ...ids(b), ...ids(c)];
  expect(new Set(all).size, 'no record claimed twice').toBe(all.length);
  for (const claim of [a, b, c]) expect(ids(claim), 'each claim in append order').toEqual([...ids(claim)].sort());
  expect(all.length, 'the first claims took something').toBeGreaterThanOrEqual(12);
  await f.stores.outbox.markPublished('relay-a', ids(a));
  await f.stores.outbox.markPublished('relay-b', ids(b));
  await f.stores.outbox.markPublished('relay-c', ids(c));
  const rest = await f.claim('relay-d', 100);
  expect([...all, ...ids(rest)].sort()).toEqual(ids(records).sort());
}

/**
 * Two relays loop claim → publish (with a delay) → mark over 6 keys × 10 records: no key is held
 * by both at once, each record is published once, and each key's records in append order.
 */
export async function keepsKeyOrderWithTwoRelays<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
  const appended: OutboxRecord[] = [];
  for (let round = 0; round < 10; round++) {
    const batch = keys.map((key) => f.record(key, { seq: round }));
    appended.push(...batch);
    await append(f, batch.slice(0, 3));
    await append(f, batch.slice(3));
  }
  const published: OutboxRecord[] = [];
  const holder = new Map<string, string>();
  let failed = false;
  const relay = async (relayId: string) => {
    const deadline = Date.now() + 20_000;
    while (!failed && published.length < appended.length && Date.now() < deadline) {
      const claim = await f.claim(relayId, 7);
      for (const key of new Set(claim.map((r) => r.key))) {
        expect(holder.get(key), `key ${key} claimed by ${relayId} while another relay holds it`).toBeUndefined();
        holder.set(key, relayId);
      }
      await new Promise((resolve) => setTimeout(resolve, claim.length === 0 ? 1 : claim.length % 3));
      published.push(...claim);
      for (const r of claim) holder.delete(r.key);
      await f.stores.outbox.markPublished(relayId, ids(claim));
    }
  };
  const stopOnFailure = (relayId: string) =>
    relay(relayId).catch((error: unknown) => {
      failed = true;
      throw error;
    });
  await Promise.all([stopOnFailure('relay-a'), stopOnFailure('relay-b')]);
  expect(published).toHaveLength(appended.length);
  for (const key of keys) {
    expect(ids(published.filter((r) => r.key === key)), `order of ${key}`).toEqual(ids(appended.filter((r) => r.key === key)));
  }
}

/** Claims by `relayId`, marking each claim published, until a claim comes back empty (at most `rounds`). */
async function drain<Tx>(f: StoreFixture<Tx>, relayId: string, rounds = 5): Promise<OutboxRecord[]> {
  const taken: OutboxRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    const claim = await f.claim(relayId);
    if (claim.length === 0) break;
    taken.push(...claim);
    await f.stores.outbox.markPublished(relayId, ids(claim));
  }
  return taken;
}

/**
 * Relays work side by side (PostgreSQL's README: any number of relay replicas): while relay-a
 * holds 12 of 30 single-record keys, relay-b and relay-c, claiming at once, get some of the other
 * 18, none of relay-a's and none twice. A store whose outbox serves one relay at a time (one lease
 * over the whole outbox) does not promise this and skips the test, saying so.
 */
export async function claimsBesideAnotherRelay<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const records = Array.from({ length: 30 }, (_, i) => f.record(`key-${i}`));
  await append(f, records);
  const a = await f.claim('relay-a', 12);
  expect(ids(a), 'relay-a takes the oldest twelve').toEqual(ids(records.slice(0, 12)));
  const [b, c] = await Promise.all([f.claim('relay-b', 12), f.claim('relay-c', 12)]);
  const others = [...ids(b), ...ids(c)];
  expect(others.length, 'relay-b and relay-c get other keys while relay-a holds twelve').toBeGreaterThan(0);
  expect(new Set(others).size, 'no record claimed by both').toBe(others.length);
  expect(others.filter((id) => ids(a).includes(id)), 'none of relay-a’s records').toEqual([]);
}

/**
 * A transaction that appended earlier commits later (on PostgreSQL a lower txid committing after a
 * higher one; on SQLite a transaction still running at a group commit, replayed after it). T1
 * appends r1 and stays open while T2 appends r2 and commits; a relay claims and publishes what it
 * gets meanwhile: r2, or nothing where the store holds claims back behind the open transaction
 * (PostgreSQL's `pg_snapshot_xmin`), never r1. Once T1 commits, r1 is claimed exactly once, and r2
 * was published exactly once: a published watermark must not pass over a record still to commit.
 * The keys differ: records of concurrent transactions have no order among themselves.
 */
export async function claimsPastAnOpenTransaction<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const r1 = f.record('early');
  const r2 = f.record('late');
  const published: OutboxRecord[] = [];
  await whileAppendIsOpen(f, [r1], async (commit) => {
    await append(f, [r2]);
    const meanwhile = await f.claim('relay-a');
    expect(ids(meanwhile), 'while T1 is open: r2 or nothing').toEqual(ids(meanwhile).includes(r2.id) ? [r2.id] : []);
    await f.stores.outbox.markPublished('relay-a', ids(meanwhile));
    published.push(...meanwhile);
    expect(ids(await f.claim('relay-b')), 'an open transaction’s record is never claimed').not.toContain(r1.id);
    await commit();
  });
  published.push(...(await drain(f, 'relay-b')));
  expect(ids(published).filter((id) => id === r1.id), 'r1 claimed once after its transaction committed').toEqual([r1.id]);
  expect(ids(published).sort(), 'r1 and r2, each published once').toEqual([r1.id, r2.id].sort());
  expect(await f.claim('relay-c'), 'nothing left').toEqual([]);
}

/**
 * An unmarked claim lapses after its lease, not before; another relay then gets the records, in
 * order. On the manual clock: still held at `leaseMs - 1`, lapsed at `leaseMs + 1`. On the wall
 * clock (3 s leases): held when another relay's claim returned less than `leaseMs` after the first
 * began, and not lapsed before `leaseMs` had passed.
 */
export async function leaseExpiry<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const records = [f.record('a'), f.record('a'), f.record('b')];
  await append(f, records);
  let taken: readonly OutboxRecord[] = [];
  if (f.leaseTime === 'clock') {
    const leaseMs = 10_000;
    expect(ids(await f.claim('relay-a', 10, leaseMs))).toEqual(ids(records));
    await f.clock.advance(leaseMs - 1);
    expect(await f.claim('relay-b', 10, leaseMs), 'the lease holds until leaseMs has passed').toEqual([]);
    await f.clock.advance(2);
    taken = await f.claim('relay-b', 10, leaseMs);
  } else {
    const leaseMs = WALL_LEASE_MS;
    const began = Date.now();
    expect(ids(await f.claim('relay-a', 10, leaseMs))).toEqual(ids(records));
    const held = await f.claim('relay-b', 10, leaseMs);
    if (Date.now() - began < leaseMs) expect(held, 'the lease holds').toEqual([]);
    await waitFor('the lease to lapse', async () => (taken = await f.claim('relay-b', 10, leaseMs)).length > 0, leaseMs + 10_000);
    expect(Date.now() - began, 'the lease lapsed no earlier than leaseMs after the claim').toBeGreaterThanOrEqual(leaseMs - CLOCK_SLACK_MS);
  }
  expect(ids(taken)).toEqual(ids(records));
  await f.stores.outbox.markPublished('relay-b', ids(taken));
  expect(await f.claim('relay-a', 10, 60_000)).toEqual([]);
}

/** Leases on the wall clock: long enough that a round trip or two under load stays well inside. */
const WALL_LEASE_MS = 3000;
/** Rounding between the test's clock and a database's, in ms. */
const CLOCK_SLACK_MS = 5;

/**
 * A relay claiming again records it holds gets them again and extends their lease (the port: a
 * claim lapses after `leaseMs` "unless marked or claimed again by the same relay"): past the first
 * lease and within the second, another relay gets nothing; past the second, it gets them.
 */
export async function extendsLease<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const records = [f.record('a'), f.record('b')];
  await append(f, records);
  let taken: readonly OutboxRecord[] = [];
  if (f.leaseTime === 'clock') {
    const leaseMs = 10_000;
    expect(ids(await f.claim('relay-a', 10, leaseMs))).toEqual(ids(records));
    await f.clock.advance(leaseMs / 2);
    expect(ids(await f.claim('relay-a', 10, leaseMs)), 'claimed again by its holder').toEqual(ids(records));
    await f.clock.advance(leaseMs / 2 + 1);
    expect(await f.claim('relay-b', 10, leaseMs), 'past the first lease, within the second').toEqual([]);
    await f.clock.advance(leaseMs / 2);
    taken = await f.claim('relay-b', 10, leaseMs);
  } else {
    const leaseMs = WALL_LEASE_MS;
    expect(ids(await f.claim('relay-a', 10, leaseMs))).toEqual(ids(records));
    const firstEnded = Date.now();
    await new Promise((resolve) => setTimeout(resolve, leaseMs / 2));
    const again = Date.now();
    expect(ids(await f.claim('relay-a', 10, leaseMs)), 'claimed again by its holder').toEqual(ids(records));
    // past the first lease for certain, then held only if the answer came before the second lapsed
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstEnded + leaseMs + 50 - Date.now())));
    const held = await f.claim('relay-b', 10, leaseMs);
    if (Date.now() - again < leaseMs) expect(held, 'past the first lease, within the second').toEqual([]);
    await waitFor('the second lease to lapse', async () => (taken = await f.claim('relay-b', 10, leaseMs)).length > 0, leaseMs + 10_000);
    expect(Date.now() - again, 'the second lease lapsed no earlier than leaseMs after it was taken').toBeGreaterThanOrEqual(leaseMs - CLOCK_SLACK_MS);
  }
  expect(ids(taken)).toEqual(ids(records));
}

/** release() ends a claim early: another relay gets the released records at once, in order; only the holder can release. */
export async function releasesClaims<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const [x1, x2, y1] = [f.record('x'), f.record('x'), f.record('y')];
  await append(f, [x1!, x2!, y1!]);
  expect(ids(await f.claim('relay-a'))).toEqual(ids([x1!, x2!, y1!]));
  await f.stores.outbox.release('relay-b', ids([x1!, x2!, y1!])); // not relay-b's claim: no effect
  expect(await f.claim('relay-b')).toEqual([]);
  await f.stores.outbox.release('relay-a', ids([x1!, x2!, y1!]));
  expect(ids(await f.claim('relay-b'))).toEqual(ids([x1!, x2!, y1!]));
}

/** findByCorrelation lists one flow's records in append order; publishedAt is set by markPublished. */
export async function findsByCorrelation<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const flow = uuidv7();
  const other = uuidv7();
  const [r1, r2, r3, r4] = [f.record('o-1', { correlationId: flow }), f.record('o-1', { correlationId: flow, topic: 'payments' }), f.record('o-2', { correlationId: other }), f.record('o-1', { correlationId: flow })];
  await append(f, [r1!, r2!, r3!]);
  await append(f, [r4!]);
  await f.clock.advance(5000);
  expect(ids(await f.claim('relay-a', 1))).toEqual([r1!.id]);
  const before = Date.now();
  await f.stores.outbox.markPublished('relay-a', [r1!.id]);
  const after = Date.now();

  const entries = await f.stores.outbox.findByCorrelation(flow);
  expect(ids(entries)).toEqual(ids([r1!, r2!, r4!]));
  expect(entries.map(outboxFields)).toEqual([r1, r2, r4]);
  const [publishedAt, ...unpublished] = entries.map((e) => e.publishedAt);
  expect(unpublished).toEqual([null, null]);
  if (f.leaseTime === 'clock') expect(publishedAt).toBe(f.clock.now());
  else expect(publishedAt).toBeGreaterThanOrEqual(before - 5000);
  if (f.leaseTime === 'wall') expect(publishedAt).toBeLessThanOrEqual(after + 5000);
  expect(ids(await f.stores.outbox.findByCorrelation(other))).toEqual([r3!.id]);
  expect(await f.stores.outbox.findByCorrelation(uuidv7())).toEqual([]);
}
