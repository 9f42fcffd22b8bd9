import { createApp, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type EventWait, type Gateway } from '../src/index.js';
import { captureLogger, OrderPlaced, orderRows, PlaceOrder, type Line } from './support.js';

// An awaitEvent route answers after its work committed: a wait that fails then must not turn the
// committed command into a 500 (its client would retry what is done), whatever waiter it is.

describe('a command held for an event whose wait fails', () => {
  let gateway: Gateway<MemoryTx> | undefined;
  afterEach(async () => {
    await gateway?.close({ deadlineMs: 100 });
    gateway = undefined;
  });

  it('answers 202 with its Location, logs the failure, and keeps its work committed', async () => {
    const stores = memoryStores();
    const lines: Line[] = [];
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores, logger: silentLogger });
    // a waiter whose wait rejects (its connection to the log lost, say) instead of resolving undefined
    const failing: EventWait = { expect: () => ({ result: Promise.reject(new Error('subscription lost')), cancel: () => undefined }) };
    gateway = createGateway<MemoryTx>({ app, logger: captureLogger(lines) });
    gateway.command({
      method: 'POST',
      url: '/orders',
      body: PlaceOrder,
      status: 201,
      handle: async ({ body, tx, publish }) => {
        tx.set('orders/o-1', { orderId: 'o-1', ...body });
        await publish(OrderPlaced, { orderId: 'o-1', item: body.item }, { correlationId: 'o-1' });
        return { orderId: 'o-1' };
      },
      awaitEvent: {
        waiter: failing,
        timeoutMs: 1_000,
        correlationId: (result) => result.orderId,
        answer: (_event, result) => ({ status: 201, body: result }),
        location: (result) => `/orders/${result.orderId}`,
      },
    });
    const response = await gateway.fastify.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'wait-fails-1' },
      payload: { item: 'book', quantity: 1 },
    });
    expect({ status: response.statusCode, location: response.headers['location'], body: response.json() }).toEqual({ status: 202, location: '/orders/o-1', body: { orderId: 'o-1' } });
    expect(await orderRows(stores)).toEqual(['orders/o-1']);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringContaining('awaited event'), fields: expect.objectContaining({ error: expect.objectContaining({ message: 'subscription lost' }) }) }));
    await app.close();
  });

  it('answers from its lookup while the wait rejects, leaving no unhandled rejection behind', async () => {
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger });
    let rejectWait!: (error: Error) => void;
    const failing: EventWait = { expect: () => ({ result: new Promise((_, reject) => (rejectWait = reject)), cancel: () => undefined }) };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      gateway = createGateway<MemoryTx>({ app });
      gateway.command({
        method: 'POST', url: '/orders', body: PlaceOrder, idempotency: 'off', status: 201,
        handle: async () => ({ orderId: 'o-2' }),
        awaitEvent: {
          waiter: failing,
          timeoutMs: 1_000,
          correlationId: (result) => result.orderId,
          answer: (_event, result) => ({ status: 201, body: result }),
          // the wait fails while the outcome is being read
          lookup: async (result) => {
            rejectWait(new Error('subscription lost'));
            await new Promise((resolve) => setImmediate(resolve));
            return { status: 200, body: { ...result, status: 'PLACED' } };
          },
          location: (result) => `/orders/${result.orderId}`,
        },
      });
      const response = await gateway.fastify.inject({ method: 'POST', url: '/orders', payload: { item: 'book', quantity: 1 } });
      expect({ status: response.statusCode, body: response.json() }).toEqual({ status: 200, body: { orderId: 'o-2', status: 'PLACED' } });
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await app.close();
    }
  });
});
