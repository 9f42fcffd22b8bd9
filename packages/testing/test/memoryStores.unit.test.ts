import { createManualClock, uuidv7, type OutboxRecord } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { memoryStores } from '../src/index.js';

function record(key: string, createdAt = 0): OutboxRecord {
  const id = uuidv7();
  return { id, topic: 'orders', key, type: 'OrderPlaced', correlationId: id, value: '{}', headers: {}, createdAt };
}

describe('memoryStores', () => {
  it('shows a transaction its own writes and no one else’s until commit', async () => {
    const stores = memoryStores();
    await stores.transaction(async (tx) => tx.set('orders/o-1', { status: 'CREATED' }));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const writer = stores.transaction(async (tx) => {
      tx.set('orders/o-2', { status: 'CREATED' });
      expect(tx.delete('orders/o-1')).toBe(true);
      expect(tx.keys('orders/')).toEqual(['orders/o-2']);
      await held;
    });
    await stores.transaction(async (tx) => {
      expect(tx.keys('orders/'), 'uncommitted writes are invisible').toEqual(['orders/o-1']);
      expect(tx.get('orders/o-2')).toBeUndefined();
    });
    release();
    await writer;
    expect(await stores.transaction(async (tx) => tx.keys())).toEqual(['orders/o-2']);
  });

  it('copies values in and out, refuses undefined, and refuses a handle used after its transaction', async () => {
    const stores = memoryStores();
    const value = { items: ['a'] };
    const escaped = await stores.transaction(async (tx) => {
      tx.set('cart', value);
      value.items.push('changed outside');
      tx.get<{ items: string[] }>('cart')!.items.push('changed copy');
      expect(() => tx.set('cart', undefined)).toThrow(/use delete/);
      return tx;
    });
    expect(await stores.transaction(async (tx) => tx.get('cart'))).toEqual({ items: ['a'] });
    expect(() => escaped.get('cart')).toThrow(expect.objectContaining({ code: 'closed' }));
    const foreign = memoryStores();
    await expect(foreign.transaction((tx) => stores.outbox.append(tx, [record('k')]))).rejects.toMatchObject({ code: 'invalid-options' });
  });

  it('signals appended records after commit only', async () => {
    const stores = memoryStores();
    let signals = 0;
    const unsubscribe = stores.onAppended(() => signals++);
    await stores.transaction(async (tx) => tx.set('x', 1));
    await stores.transaction((tx) => stores.outbox.append(tx, [record('k')]));
    expect(signals).toBe(1);
    await expect(
      stores.transaction(async (tx) => {
        await stores.outbox.append(tx, [record('k')]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(signals).toBe(1);
    unsubscribe();
    await stores.transaction((tx) => stores.outbox.append(tx, [record('k')]));
    expect(signals).toBe(1);
  });

  it('keeps the first record of a duplicated id', async () => {
    const stores = memoryStores();
    const first = record('k');
    await stores.transaction((tx) => stores.outbox.append(tx, [first, { ...first, value: '{"second":true}' }]));
    const claimed = await stores.outbox.claim({ relayId: 'r', limit: 10, leaseMs: 1000 });
    expect(claimed.map((r) => r.value)).toEqual(['{}']);
  });

  it('renews a relay’s lease when it claims its records again', async () => {
    const clock = createManualClock(0);
    const stores = memoryStores({ clock });
    await stores.transaction((tx) => stores.outbox.append(tx, [record('k')]));
    const claim = (relayId: string) => stores.outbox.claim({ relayId, limit: 10, leaseMs: 1000 });
    expect(await claim('a')).toHaveLength(1);
    await clock.advance(600);
    expect(await claim('a'), 'the holder gets its records again').toHaveLength(1);
    await clock.advance(600);
    expect(await claim('b'), 'renewed until 1600').toEqual([]);
    await clock.advance(500);
    expect(await claim('b')).toHaveLength(1);
    await expect(stores.outbox.claim({ relayId: 'c', limit: 0, leaseMs: 1 })).rejects.toMatchObject({ code: 'invalid-options' });
  });

  it('rolls back a transaction whose work outlives transactionTimeoutMs, freeing its locks and refusing its later writes', async () => {
    const clock = createManualClock(0);
    const stores = memoryStores({ clock, transactionTimeoutMs: 1_000 });
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    let lateWrite: unknown;
    const stuck = stores.transaction(async (tx) => {
      tx.set('orders/o-1', { status: 'CREATED' });
      expect(await stores.inbox.markHandled(tx, { group: 'billing', eventId: 'e-1', handledAt: 0 })).toBe(true);
      await hung;
      try {
        tx.set('orders/o-2', { status: 'CREATED' });
      } catch (error) {
        lateWrite = error;
      }
    });
    const outcome = stuck.catch((error: unknown) => error);
    await clock.advance(999);
    // another transaction marking the same event waits on the stuck one's lock
    let marked: boolean | undefined;
    const waiting = stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'billing', eventId: 'e-1', handledAt: 1 })).then((m) => (marked = m));
    await Promise.resolve();
    expect(marked).toBeUndefined();
    await clock.advance(1);
    expect(await outcome).toMatchObject({ code: 'timeout', retriable: true });
    await waiting;
    expect(marked, 'the lock went with the rollback').toBe(true);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lateWrite).toMatchObject({ code: 'closed' });
    expect(await stores.transaction(async (tx) => tx.keys())).toEqual([]);
  });

  it('refuses a transactionTimeoutMs that is not a positive number', () => {
    for (const transactionTimeoutMs of [0, -1, Number.NaN, 2 ** 31]) {
      expect(() => memoryStores({ transactionTimeoutMs }), String(transactionTimeoutMs)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    }
  });

  it('refuses transactions after close', async () => {
    const stores = memoryStores();
    await stores.close();
    await expect(stores.transaction(async () => {})).rejects.toMatchObject({ code: 'closed' });
  });
});
