import { createManualClock, HeraldError } from '@herald/core';
import { memoryStores } from '@herald/testing';
import { describe, expect, it } from 'vitest';
import { resolveGatewayOptions, startIdempotencyPurger } from '../src/index.js';

describe('startIdempotencyPurger', () => {
  it('deletes expired keys every interval, on the injected clock', async () => {
    const clock = createManualClock(0);
    const stores = memoryStores({ clock });
    await stores.idempotency.begin({ key: 'short', fingerprint: 'f', now: 0, ttlMs: 1_000 });
    await stores.idempotency.begin({ key: 'long', fingerprint: 'f', now: 0, ttlMs: 10_000 });
    const purged: number[] = [];
    const purger = startIdempotencyPurger({ store: stores.idempotency, clock, intervalMs: 2_000, onPurged: (n) => purged.push(n) });
    await clock.advance(1_999);
    expect(purged).toEqual([]);
    await clock.advance(1);
    await until(() => purged.length === 1);
    expect(purged).toEqual([1]);
    // the short key is gone, so it can be claimed again; the long one is still held
    expect(await stores.idempotency.begin({ key: 'short', fingerprint: 'g', now: 2_000, ttlMs: 1_000 })).toMatchObject({ outcome: 'started' });
    expect(await stores.idempotency.begin({ key: 'long', fingerprint: 'f', now: 2_000, ttlMs: 1_000 })).toEqual({ outcome: 'in-flight' });
    await purger.stop();
    await clock.advance(100_000);
    expect(purged).toEqual([1]);
  });

  it('keeps going after a failed purge', async () => {
    const clock = createManualClock(0);
    let calls = 0;
    const store = {
      async purgeExpired() {
        calls++;
        if (calls === 1) throw new HeraldError('db-busy', 'busy', { retriable: true });
        return 3;
      },
    };
    const purged: number[] = [];
    const purger = startIdempotencyPurger({ store, clock, intervalMs: 10, onPurged: (n) => purged.push(n) });
    await clock.advance(10);
    await until(() => calls === 1 && clock.pending() === 1);
    await clock.advance(10);
    await until(() => purged.length === 1);
    expect(purged).toEqual([3]);
    await purger.stop();
  });
});

describe('resolveGatewayOptions', () => {
  const stores = memoryStores();
  const app = { transaction: async () => undefined as never, stores };
  it('fills defaults: 64 KiB bodies, 24 h keys', () => {
    expect(resolveGatewayOptions({ app })).toMatchObject({ bodyLimitBytes: 65_536, ttlMs: 86_400_000, leaseMs: 60_000, purgeIntervalMs: 3_600_000, deadlineMs: 10_000 });
  });
  it('refuses stores without the idempotency ability, naming it', () => {
    const { idempotency: _idempotency, ...withoutAbility } = stores;
    expect(() => resolveGatewayOptions({ app: { ...app, stores: withoutAbility } })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('idempotency ability') }),
    );
  });
  it.each([
    [{ bodyLimitBytes: 0 }],
    [{ idempotency: { ttlMs: -1 } }],
    [{ idempotency: { ttlMs: 1_000, leaseMs: 2_000 } }],
    [{ shutdown: { deadlineMs: 1.5 } }],
    [{ problems: { errorKinds: { 'seat-held': 'no-such-kind' } } }],
  ])('refuses %j', (bad) => {
    expect(() => resolveGatewayOptions({ app, ...bad })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });
});

/** Lets promise callbacks run until `condition` holds (no timers: the clock is manual). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  expect(condition()).toBe(true);
}
