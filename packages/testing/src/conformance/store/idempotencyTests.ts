import { expect } from 'vitest';
import { ErrorCodes, type IdempotencyBeginOptions, type IdempotencyStore, type IdempotencyStores, type Stores } from '@herald/core';
import type { StoreFixture } from './fixture.js';

type F<Tx> = StoreFixture<Tx, Stores<Tx> & IdempotencyStores<Tx>>;

const DAY = 86_400_000;
const response = { status: 201, headers: { location: '/orders/o-1' }, body: { orderId: 'o-1', status: 'CREATED' } };
const started = { outcome: 'started', owner: expect.any(String) };

/** Claims a key that must be free and returns the owner token of the attempt that took it. */
async function claim<Tx>(idempotency: IdempotencyStore<Tx>, options: IdempotencyBeginOptions): Promise<string> {
  const begun = await idempotency.begin(options);
  if (begun.outcome !== 'started') throw new Error(`expected to take ${options.key}, got ${begun.outcome}`);
  return begun.owner;
}

/** begin claims a key; the response completed in a transaction is returned to the same request later. */
export async function completesAndReplays<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  const owner = await claim(idempotency, { key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY });
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'order-o-1');
    await idempotency.complete(tx, { key: 'req-1', owner, response });
  });
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now: now + 1000, ttlMs: DAY })).toEqual({ outcome: 'completed', response });
  expect(await f.harness.readEffects()).toEqual(['order-o-1']);
}

/** Same key, other fingerprint: mismatch (in flight or done); same key while unfinished: in-flight; one winner among many. */
export async function reportsConflicts<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  const begin = (key: string, fingerprint: string) => idempotency.begin({ key, fingerprint, now, ttlMs: DAY });
  const owner = await claim(idempotency, { key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY });
  expect(await begin('req-1', 'fp-1')).toEqual({ outcome: 'in-flight' });
  expect(await begin('req-1', 'fp-2')).toEqual({ outcome: 'mismatch' });
  await f.stores.transaction((tx) => idempotency.complete(tx, { key: 'req-1', owner, response }));
  expect(await begin('req-1', 'fp-2')).toEqual({ outcome: 'mismatch' });

  const racing = await Promise.all(Array.from({ length: 10 }, () => begin('req-2', 'fp-1')));
  expect(racing.filter((r) => r.outcome === 'started')).toHaveLength(1);
  expect(racing.filter((r) => r.outcome === 'in-flight')).toHaveLength(9);
}

/** abandon forgets an unfinished key so the request can be retried; a completed key stays; so does another owner's. */
export async function abandons<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  const first = await claim(idempotency, { key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY });
  await idempotency.abandon({ key: 'req-1', owner: 'someone-else' });
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY }), 'abandon by a stranger').toEqual({ outcome: 'in-flight' });
  await idempotency.abandon({ key: 'req-1', owner: first });
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-2', now, ttlMs: DAY }), 'retry with another body after abandon').toEqual(started);

  const owner = await claim(idempotency, { key: 'req-2', fingerprint: 'fp-1', now, ttlMs: DAY });
  await f.stores.transaction((tx) => idempotency.complete(tx, { key: 'req-2', owner, response }));
  await idempotency.abandon({ key: 'req-2', owner });
  expect(await idempotency.begin({ key: 'req-2', fingerprint: 'fp-1', now, ttlMs: DAY })).toEqual({ outcome: 'completed', response });
  await idempotency.abandon({ key: 'never-begun', owner });
}

/** A completion in a transaction that rolls back is not kept: the key is still in flight. */
export async function rollsBackCompletion<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const now = f.clock.now();
  const owner = await claim(idempotency, { key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY });
  const failing = f.stores.transaction(async (tx) => {
    await idempotency.complete(tx, { key: 'req-1', owner, response });
    throw new Error('effect failed');
  });
  await expect(failing).rejects.toThrow('effect failed');
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now, ttlMs: DAY })).toEqual({ outcome: 'in-flight' });
}

/**
 * An attempt still running when its lease runs out loses the key to a retry: the retry takes it
 * over and commits; the old attempt's completion, in its still open transaction, throws
 * `idempotency-lease-lost` and takes its effects down with the transaction (one set of rows and
 * outbox records in the end), and its abandon leaves the key alone. Before the lease runs out, and
 * for another body, there is no takeover.
 */
export async function takesOverLapsedLeases<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const t = f.clock.now();
  const begin = (fingerprint: string, now: number) => idempotency.begin({ key: 'req-1', fingerprint, now, ttlMs: DAY, leaseMs: 5_000 });
  const effects = async (tx: Tx, id: string) => {
    await f.harness.writeEffect(tx, id);
    await f.stores.outbox.append(tx, [f.record(id, { correlationId: id })]);
  };
  const slow = await claim(idempotency, { key: 'req-1', fingerprint: 'fp-1', now: t, ttlMs: DAY, leaseMs: 5_000 });
  expect(await begin('fp-1', t + 4_999), 'lease still held').toEqual({ outcome: 'in-flight' });
  expect(await begin('fp-2', t + 5_000), 'another body never takes over').toEqual({ outcome: 'mismatch' });

  // the slow attempt's transaction is open, its effects written, when its lease runs out
  const finish = deferred();
  const written = deferred();
  const late = f.stores.transaction(async (tx) => {
    await effects(tx, 'by-slow');
    written.resolve();
    await finish.promise;
    await idempotency.complete(tx, { key: 'req-1', owner: slow, response: { status: 201, body: 'second' } });
  });
  late.catch(() => undefined);
  await written.promise;
  await f.clock.advance(5_000);
  const retry = await begin('fp-1', f.clock.now());
  expect(retry, 'lease lapsed: a retry takes the key over').toEqual(started);
  if (retry.outcome !== 'started') return;
  expect(retry.owner).not.toBe(slow);
  await f.stores.transaction(async (tx) => {
    await effects(tx, 'by-retry');
    await idempotency.complete(tx, { key: 'req-1', owner: retry.owner, response });
  });
  finish.resolve();
  await expect(late).rejects.toMatchObject({ code: ErrorCodes.idempotencyLeaseLost });
  await idempotency.abandon({ key: 'req-1', owner: slow });

  expect(await f.harness.readEffects()).toEqual(['by-retry']);
  expect(await f.stores.outbox.findByCorrelation('by-retry')).toHaveLength(1);
  expect(await f.stores.outbox.findByCorrelation('by-slow')).toEqual([]);
  expect(await begin('fp-1', f.clock.now() + 60_000), "the retry's response, kept past any lease").toEqual({ outcome: 'completed', response });
}

/** An abandon by an attempt that lost its lease leaves the in-flight key of the attempt that took over. */
export async function keepsTakenOverKeys<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const t = f.clock.now();
  const slow = await claim(idempotency, { key: 'req-1', fingerprint: 'fp-1', now: t, ttlMs: DAY, leaseMs: 5_000 });
  const retry = await claim(idempotency, { key: 'req-1', fingerprint: 'fp-1', now: t + 5_000, ttlMs: DAY, leaseMs: 5_000 });
  await idempotency.abandon({ key: 'req-1', owner: slow });
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now: t + 6_000, ttlMs: DAY, leaseMs: 5_000 }), 'a third attempt').toEqual({ outcome: 'in-flight' });
  // the key is still the retry's to complete
  await f.stores.transaction((tx) => idempotency.complete(tx, { key: 'req-1', owner: retry, response }));
  expect(await idempotency.begin({ key: 'req-1', fingerprint: 'fp-1', now: t + 6_000, ttlMs: DAY })).toEqual({ outcome: 'completed', response });
}

/** Expired records are claimable again; purgeExpired deletes exactly the expired ones and counts them. */
export async function expiresAndPurges<Tx>(f: F<Tx>): Promise<void> {
  const { idempotency } = f.stores;
  const t = f.clock.now();
  const begin = (key: string, fingerprint: string, now: number, ttlMs = 1000) => idempotency.begin({ key, fingerprint, now, ttlMs });

  await begin('stale', 'fp-1', t);
  expect(await begin('stale', 'fp-1', t + 500), 'before expiry').toEqual({ outcome: 'in-flight' });
  expect(await begin('stale', 'fp-2', t + 1500), 'after expiry, claimable by anyone').toEqual(started);

  await begin('short', 'fp-1', t, 1000);
  const owner = await claim(idempotency, { key: 'done', fingerprint: 'fp-1', now: t, ttlMs: 2000 });
  await f.stores.transaction((tx) => idempotency.complete(tx, { key: 'done', owner, response }));
  await begin('long', 'fp-1', t, 100_000);
  // 'stale' now expires at t + 2500
  expect(await idempotency.purgeExpired(t + 5000)).toBe(3);
  expect(await idempotency.purgeExpired(t + 5000)).toBe(0);
  expect(await begin('long', 'fp-1', t + 5000), 'unexpired record kept').toEqual({ outcome: 'in-flight' });
  expect(await begin('done', 'fp-1', t + 5000), 'purged completed record forgotten').toEqual(started);
}

/** Keys and their responses survive closing and reopening the stores. */
export async function persistsKeys<Tx>(f: F<Tx>): Promise<void> {
  const owner = await claim(f.stores.idempotency, { key: 'request-1', fingerprint: 'fp', now: f.clock.now(), ttlMs: DAY });
  await f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'effect-1');
    await f.stores.idempotency.complete(tx, { key: 'request-1', owner, response: { status: 201 } });
  });
  await f.reopen();
  expect(await f.harness.readEffects()).toEqual(['effect-1']);
  const again = await f.stores.idempotency.begin({ key: 'request-1', fingerprint: 'fp', now: f.clock.now(), ttlMs: DAY });
  expect(again).toEqual({ outcome: 'completed', response: { status: 201 } });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
