import { uuidv7, type OutboxRecord } from '@herald/core';
import { expect } from 'vitest';
import { waitFor } from '../suiteTests.js';
import { ids, outboxFields, type StoreFixture } from './fixture.js';

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

/** An unmarked claim lapses after its lease; another relay then gets the records, in order. */
export async function leaseExpiry<Tx>(f: StoreFixture<Tx>): Promise<void> {
  const records = [f.record('a'), f.record('a'), f.record('b')];
  await append(f, records);
  const leaseMs = f.leaseTime === 'clock' ? 10_000 : 300;
  expect(ids(await f.claim('relay-a', 10, leaseMs))).toEqual(ids(records));
  expect(await f.claim('relay-b', 10, leaseMs), 'the lease holds').toEqual([]);
  let taken: readonly OutboxRecord[] = [];
  if (f.leaseTime === 'clock') {
    await f.clock.advance(leaseMs + 1);
    taken = await f.claim('relay-b', 10, leaseMs);
  } else {
    await waitFor('the lease to lapse', async () => (taken = await f.claim('relay-b', 10, leaseMs)).length > 0, 10_000);
  }
  expect(ids(taken)).toEqual(ids(records));
  await f.stores.outbox.markPublished('relay-b', ids(taken));
  expect(await f.claim('relay-a', 10, leaseMs)).toEqual([]);
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
