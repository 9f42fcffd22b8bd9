import { afterEach, describe, expect, it } from 'vitest';
import { createApp, ErrorCodes, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';
import { apps, closeApps, Step } from './appFixture.js';

afterEach(closeApps);

/** An app over `stores` with transactionBatch on, counting the stores' transactions. */
function appOver(stores: MemoryStores, options: { withRead: boolean }) {
  const counted = { transactions: 0 };
  const wrapped = new Proxy(stores, {
    get(target, name, receiver) {
      if (name === 'transaction') return (work: (tx: MemoryTx) => Promise<unknown>) => (counted.transactions++, target.transaction(work));
      if (name === 'read' && !options.withRead) return undefined;
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
  const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 2 }), stores: wrapped, logger: silentLogger, events: [Step], relay: false, transactionBatch: 8 });
  apps.push(app);
  return { app, counted };
}

describe('App.read', () => {
  it("runs in the stores' read-only transaction, never batched with transactions, and refuses writes", async () => {
    const stores = memoryStores();
    const { app, counted } = appOver(stores, { withRead: true });
    await app.transaction(async (tx) => tx.set('order/1', 'PLACED'));
    counted.transactions = 0;
    const [read] = await Promise.all([app.read(async (tx) => tx.get<string>('order/1')), app.transaction(async (tx) => tx.set('order/2', 'PLACED'))]);
    expect(read).toBe('PLACED');
    expect(counted.transactions, 'only the transaction: the read is no store transaction, nor in its batch').toBe(1);
    await expect(app.read(async (tx) => tx.set('order/1', 'CHANGED'))).rejects.toMatchObject({ code: ErrorCodes.readOnlyTransaction, retriable: false });
    expect(await app.read(async (tx) => tx.get<string>('order/1'))).toBe('PLACED');
  });

  it("falls back to the stores' transaction on stores without read transactions", async () => {
    const { app, counted } = appOver(memoryStores(), { withRead: false });
    expect(await app.read(async (tx) => (tx.set('order/1', 'WRITTEN'), tx.keys('order/')))).toEqual(['order/1']);
    expect(counted.transactions).toBe(1);
  });
});
