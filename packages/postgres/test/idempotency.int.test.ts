import { ErrorCodes, type IdempotencyBegin } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { usePostgres } from './support.js';

const pgs = usePostgres();
const DAY = 24 * 60 * 60 * 1000;
const started = { outcome: 'started', owner: expect.any(String) };

/** The owner token of a `begin` that must have taken the key. */
function ownerOf(begun: IdempotencyBegin): string {
  if (begun.outcome !== 'started') throw new Error(`expected the key to be taken, got ${begun.outcome}`);
  return begun.owner;
}

describe('idempotency keys', () => {
  it('starts once, then reports in-flight, mismatch, and the completed response', async () => {
    const stores = await pgs.stores();
    const { idempotency } = stores;
    const begin = (fingerprint: string, now = 1000) => idempotency.begin({ key: 'k1', fingerprint, now, ttlMs: DAY });
    const owner = ownerOf(await begin('f1'));
    expect(await begin('f1')).toEqual({ outcome: 'in-flight' });
    expect(await begin('f2')).toEqual({ outcome: 'mismatch' });
    // key order of the stored response is kept exactly (stored as JSON text, not jsonb)
    const response = { status: 201, body: { orderId: 'o1', status: 'CREATED', a: [1, 2] } };
    await stores.transaction((tx) => idempotency.complete(tx, { key: 'k1', owner, response }));
    const completed = await begin('f1');
    expect(completed).toEqual({ outcome: 'completed', response });
    expect(JSON.stringify(completed)).toContain('{"orderId":"o1","status":"CREATED","a":[1,2]}');
    expect(await begin('f2')).toEqual({ outcome: 'mismatch' });
  });

  it('lets exactly one of many concurrent requests start', async () => {
    const stores = await pgs.stores({ poolSize: 12 });
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () => stores.idempotency.begin({ key: 'race', fingerprint: 'f', now: 1, ttlMs: DAY })),
    );
    expect(outcomes.filter((o) => o.outcome === 'started')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'in-flight')).toHaveLength(11);
  });

  it('completes only with its transaction', async () => {
    const stores = await pgs.stores();
    const owner = ownerOf(await stores.idempotency.begin({ key: 'k', fingerprint: 'f', now: 1, ttlMs: DAY }));
    await expect(
      stores.transaction(async (tx) => {
        await stores.idempotency.complete(tx, { key: 'k', owner, response: { status: 201 } });
        throw new Error('request failed after completing');
      }),
    ).rejects.toThrow('request failed after completing');
    expect(await stores.idempotency.begin({ key: 'k', fingerprint: 'f', now: 2, ttlMs: DAY })).toEqual({ outcome: 'in-flight' });
  });

  it('forgets abandoned in-flight keys but never a completed one', async () => {
    const stores = await pgs.stores();
    const { idempotency } = stores;
    const first = ownerOf(await idempotency.begin({ key: 'a', fingerprint: 'f', now: 1, ttlMs: DAY }));
    await idempotency.abandon({ key: 'a', owner: first });
    const second = ownerOf(await idempotency.begin({ key: 'a', fingerprint: 'other', now: 2, ttlMs: DAY }));
    await stores.transaction((tx) => idempotency.complete(tx, { key: 'a', owner: second, response: 'ok' }));
    await idempotency.abandon({ key: 'a', owner: second });
    expect(await idempotency.begin({ key: 'a', fingerprint: 'other', now: 3, ttlMs: DAY })).toEqual({ outcome: 'completed', response: 'ok' });
  });

  it('treats expired keys as absent and purges them', async () => {
    const stores = await pgs.stores();
    const { idempotency } = stores;
    const owner = ownerOf(await idempotency.begin({ key: 'old', fingerprint: 'f1', now: 1000, ttlMs: 500 }));
    await stores.transaction((tx) => idempotency.complete(tx, { key: 'old', owner, response: 1 }));
    await idempotency.begin({ key: 'young', fingerprint: 'f1', now: 1000, ttlMs: 5000 });
    expect(await idempotency.begin({ key: 'old', fingerprint: 'f1', now: 1499, ttlMs: 500 })).toEqual({ outcome: 'completed', response: 1 });
    // at its expiry the old record no longer counts: a different request may take the key
    expect(await idempotency.begin({ key: 'old', fingerprint: 'f2', now: 1500, ttlMs: 500 })).toEqual(started);
    expect(await idempotency.purgeExpired(2000)).toBe(1); // 'old' (again expired at 2000); 'young' lives until 6000
    expect(await idempotency.purgeExpired(2000)).toBe(0);
    expect(await idempotency.begin({ key: 'young', fingerprint: 'f1', now: 2000, ttlMs: 5000 })).toEqual({ outcome: 'in-flight' });
    expect(await idempotency.purgeExpired(6000)).toBe(1);
  });

  it('holds off a takeover while a completion is uncommitted: the retry waits, then finds the key completed', async () => {
    const stores = await pgs.stores({ poolSize: 4 });
    const { idempotency } = stores;
    const slow = ownerOf(await idempotency.begin({ key: 'k', fingerprint: 'f', now: 1_000, ttlMs: DAY, leaseMs: 5_000 }));
    let commit!: () => void;
    const held = new Promise<void>((resolve) => (commit = resolve));
    let completed!: () => void;
    const locked = new Promise<void>((resolve) => (completed = resolve));
    const finishing = stores.transaction(async (tx) => {
      await idempotency.complete(tx, { key: 'k', owner: slow, response: { status: 201 } });
      completed();
      await held;
    });
    await locked;
    // past the lease, but the completion holds the row: the takeover waits for its commit
    const retry = idempotency.begin({ key: 'k', fingerprint: 'f', now: 7_000, ttlMs: DAY, leaseMs: 5_000 });
    const first = await Promise.race([retry.then(() => 'answered'), new Promise((resolve) => setTimeout(resolve, 200, 'waiting'))]);
    expect(first).toBe('waiting');
    commit();
    await finishing;
    expect(await retry).toEqual({ outcome: 'completed', response: { status: 201 } });
  });

  it('lets only the owner that still holds a key complete it', async () => {
    const stores = await pgs.stores();
    const { idempotency } = stores;
    const slow = ownerOf(await idempotency.begin({ key: 'k', fingerprint: 'f', now: 1_000, ttlMs: DAY, leaseMs: 5_000 }));
    const retry = ownerOf(await idempotency.begin({ key: 'k', fingerprint: 'f', now: 6_000, ttlMs: DAY, leaseMs: 5_000 }));
    await expect(stores.transaction((tx) => idempotency.complete(tx, { key: 'k', owner: slow, response: 'slow' }))).rejects.toMatchObject({
      code: ErrorCodes.idempotencyLeaseLost,
    });
    await idempotency.abandon({ key: 'k', owner: slow });
    await stores.transaction((tx) => idempotency.complete(tx, { key: 'k', owner: retry, response: 'retry' }));
    expect(await idempotency.begin({ key: 'k', fingerprint: 'f', now: 6_001, ttlMs: DAY })).toEqual({ outcome: 'completed', response: 'retry' });
  });
});
