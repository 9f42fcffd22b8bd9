import { expect } from 'vitest';
import type { IdempotencyStores, Stores } from '@herald/core';
import type { StoreFixture } from './fixture.js';

type F<Tx> = StoreFixture<Tx, Stores<Tx> & IdempotencyStores<Tx>>;

const DAY = 86_400_000;
const response = { status: 201, headers: { location: '/orders/o-1' }, body: { orderId: 'o-1', status: 'CREATED' } };

/** begin claims a key; the response completed in a transaction is returned to the same request later. */
export async function completesAndReplays<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY })).toEqual({ outcome: 'started' });
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'order-o-1');
    await idempotency.complete(tx, { key: 'req-1', response });
  });
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now: now + 1000, ttlMs: DAY })).toEqual({ outcome: 'completed', response });
  expect(await f.harness.readEffects()).toEqual(['order-o-1']);
}

/** Same key, other fingerprint: mismatch (in flight or done); same key while unfinished: in-flight; one winner among many. */
export async function reportsConflicts<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  const begin = (key: string, fingerprint: string) => idempotency.begin({ key, fingerprint, now, ttlMs: DAY });
  expect(await begin('req-1', 'fp-1')).toEqual({ outcome: 'started' });
  expect(await begin('req-1', 'fp-1')).toEqual({ outcome: 'in-flight' });
  expect(await begin('req-1', 'fp-2')).toEqual({ outcome: 'mismatch' });
  await f.stores.transaction((tx) => idempotency.complete(tx, { key: 'req-1', response }));
  expect(await begin('req-1', 'fp-2')).toEqual({ outcome: 'mismatch' });

  const racing = await Promise.all(Array.from({ length: 10 }, () => begin('req-2', 'fp-1')));
  expect(racing.filter((r) => r.outcome === 'started')).toHaveLength(1);
  expect(racing.filter((r) => r.outcome === 'in-flight')).toHaveLength(9);
}

/** abandon forgets an unfinished key so the request can be retried; a completed key stays. */
export async function abandons<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  const begin = (key: string, fingerprint: string) => idempotency.begin({ key, fingerprint, now, ttlMs: DAY });
  await begin('req-1', 'fp-1');
  await idempotency.abandon('req-1');
  expect(await begin('req-1', 'fp-2'), 'retry with another body after abandon').toEqual({ outcome: 'started' });

  await begin('req-2', 'fp-1');
  await f.stores.transaction((tx) => idempotency.complete(tx, { key: 'req-2', response }));
  await idempotency.abandon('req-2');
  expect(await begin('req-2', 'fp-1')).toEqual({ outcome: 'completed', response });
  await idempotency.abandon('never-begun');
}

/** A completion in a transaction that rolls back is not kept: the key is still in flight. */
export async function rollsBackCompletion<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY });
  const failing = f.stores.transaction(async (tx) => {
    await idempotency.complete(tx, { key: 'req-1', response });
    throw new Error('effect failed');
  });
  await expect(failing).rejects.toThrow('effect failed');
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY })).toEqual({ outcome: 'in-flight' });
}

/** Expired records are claimable again; purgeExpired deletes exactly the expired ones and counts them. */
export async function expiresAndPurges<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const t = f.clock.now();
  const begin = (key: string, fingerprint: string, now: number, ttlMs = 1000) => idempotency.begin({ key, fingerprint, now, ttlMs });

  await begin('stale', 'fp-1', t);
  expect(await begin('stale', 'fp-1', t + 500), 'before expiry').toEqual({ outcome: 'in-flight' });
  expect(await begin('stale', 'fp-2', t + 1500), 'after expiry, claimable by anyone').toEqual({ outcome: 'started' });

  await begin('short', 'fp-1', t, 1000);
  await begin('done', 'fp-1', t, 2000);
  await f.stores.transaction((tx) => idempotency.complete(tx, { key: 'done', response }));
  await begin('long', 'fp-1', t, 100_000);
  // 'stale' now expires at t + 2500
  expect(await idempotency.purgeExpired(t + 5000)).toBe(3);
  expect(await idempotency.purgeExpired(t + 5000)).toBe(0);
  expect(await begin('long', 'fp-1', t + 5000), 'unexpired record kept').toEqual({ outcome: 'in-flight' });
  expect(await begin('done', 'fp-1', t + 5000), 'purged completed record forgotten').toEqual({ outcome: 'started' });
}

/** Keys and their responses survive closing and reopening the stores. */
export async function persistsKeys<Tx>(f: F<Tx>): Promise<void> {
  await f.stores.idempotency.begin({ key: 'request-1', fingerprint: 'fp', now: f.clock.now(), ttlMs: DAY });
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'effect-1');
    await f.stores.idempotency.complete(tx, { key: 'request-1', response: { status: 201 } });
  });
  await f.reopen();
  expect(await f.harness.readEffects()).toEqual(['effect-1']);
  const again = await f.stores.idempotency.begin({ key: 'request-1', fingerprint: 'fp', now: f.clock.now(), ttlMs: DAY });
  expect(again).toEqual({ outcome: 'completed', response: { status: 201 } });
}
