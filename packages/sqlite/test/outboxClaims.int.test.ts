import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { systemClock, type OutboxRecord } from '@herald/core';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { openDatabase } from '../src/internal/database.js';
import { createOutboxClaims, type SlotWrites } from '../src/stores/outbox.js';
import { slotWritesOf } from '../src/stores/sqliteStores.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** The claim side as the relay thread runs it: its own read connection, the slot writes counted. */
function claimsOf(path: string, stores: SqliteStores) {
  const reader = openDatabase({ path, busyTimeoutMs: 1000, readonly: true });
  closers.push(() => reader.close());
  const calls: string[] = [];
  const writes = slotWritesOf(stores);
  const counted: SlotWrites = {
    take: (take) => (calls.push('take'), writes.take(take)),
    advance: (relayId, tops) => (calls.push('advance'), writes.advance(relayId, tops)),
    markIds: (relayId, ids) => (calls.push('markIds'), writes.markIds(relayId, ids)),
    release: (relayId, ids) => (calls.push('release'), writes.release(relayId, ids)),
  };
  return { claims: createOutboxClaims(reader, systemClock, counted), calls };
}

const record = (id: string, key: string): OutboxRecord => ({ id, topic: 'orders', key, type: 'OrderPlaced', correlationId: id, value: `{"id":"${id}"}`, headers: {}, createdAt: Date.now() });

it('an idle claim asks the writer for nothing; a claim with work, a catch-up or a release does', async () => {
  const path = join(tmp.dir, 'idle.db');
  const stores = sqliteStores({ path });
  closers.push(() => stores.close());
  const { claims, calls } = claimsOf(path, stores);

  expect(await claims.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 })).toEqual([]);
  expect(calls).toEqual([]);

  await stores.transaction((tx) => stores.outbox.append(tx, [record('a', 'k1'), record('b', 'k2')]));
  const claimed = await claims.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 });
  expect(claimed.map((r) => r.id)).toEqual(['a', 'b']);
  expect(calls).toEqual(['take']);

  // published: the mark moves the two slots' watermarks and ends their leases; the next claim still
  // scans past a and b from the other slots' watermarks, so it takes once to catch those slots up
  await claims.markPublished('r1', ['a', 'b']);
  expect(await claims.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 })).toEqual([]);
  expect(calls).toEqual(['take', 'advance', 'take']);
  // and from then on an idle claim is free again
  expect(await claims.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 })).toEqual([]);
  expect(await claims.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 })).toEqual([]);
  expect(calls).toEqual(['take', 'advance', 'take']);

  // a claim that is released keeps nothing: its rows are claimed again, and nothing was lost
  await stores.transaction((tx) => stores.outbox.append(tx, [record('c', 'k1')]));
  expect((await claims.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 })).map((r) => r.id)).toEqual(['c']);
  await claims.release('r1', ['c']);
  expect((await claims.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 })).map((r) => r.id)).toEqual(['c']);
  expect(calls).toEqual(['take', 'advance', 'take', 'take', 'release', 'take']);
});

it('a key held back by a refused record holds back no other key, however much is published after it', async () => {
  const path = join(tmp.dir, 'held.db');
  const stores = sqliteStores({ path });
  closers.push(() => stores.close());
  const { claims } = claimsOf(path, stores);
  // the broker refused `bad` for good: the relay skips its key while it waits to try it again, and
  // its slot's watermark stays below it. Rows published since in other slots stay in the outbox
  // (the fast path moves watermarks, not rows): a claim's depth must not be spent on them
  await stores.transaction((tx) => stores.outbox.append(tx, [record('bad', 'bad')]));
  const claimedPerRound: number[] = [];
  for (let round = 0; round < 30; round++) {
    const batch = Array.from({ length: 100 }, (_, i) => record(`r${round}-${i}`, `k${i}`));
    await stores.transaction((tx) => stores.outbox.append(tx, batch));
    const claimed = await claims.claim({ relayId: 'r1', limit: 100, leaseMs: 1000, skipKeys: ['bad'] });
    claimedPerRound.push(claimed.length);
    await claims.markPublished('r1', claimed.map((r) => r.id));
  }
  expect(claimedPerRound).toEqual(Array.from({ length: 30 }, () => 100));
  // tried again, the refused record is claimed first, and the claim still reaches the others
  await stores.transaction((tx) => stores.outbox.append(tx, [record('late', 'k1')]));
  expect((await claims.claim({ relayId: 'r1', limit: 100, leaseMs: 1000 })).map((r) => r.id)).toEqual(['bad', 'late']);
});
