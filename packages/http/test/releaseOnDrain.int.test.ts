import { createApp, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type EventWait, type Gateway } from '../src/index.js';
import { PlaceOrder } from './support.js';

// Each command held for an event listens for the drain on one shared signal, and stops listening
// when it is answered: many held at once are no leak, and must not be reported as one.

describe('many commands held for an event at once', () => {
  let gateway: Gateway<MemoryTx> | undefined;
  afterEach(async () => {
    await gateway?.close({ deadlineMs: 100 });
    gateway = undefined;
  });

  it('raise no MaxListenersExceededWarning, and are all answered 202 when draining begins', async () => {
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      let waits = 0;
      // never answers: each wait ends when cancelled
      const waiter: EventWait = {
        expect() {
          waits++;
          let end!: () => void;
          return { result: new Promise((resolve) => (end = () => resolve(undefined))), cancel: () => end() };
        },
      };
      gateway = createGateway<MemoryTx>({ app });
      let next = 0;
      gateway.command({
        method: 'POST', url: '/orders', body: PlaceOrder, idempotency: 'off', status: 201,
        handle: async () => ({ orderId: `o-${++next}` }),
        awaitEvent: { waiter, timeoutMs: 60_000, correlationId: (r) => r.orderId, answer: (_e, r) => ({ status: 201, body: r }), location: (r) => `/orders/${r.orderId}` },
      });
      const held = Array.from({ length: 25 }, () => gateway!.fastify.inject({ method: 'POST', url: '/orders', payload: { item: 'book', quantity: 1 } }));
      for (let i = 0; i < 100 && waits < 25; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(waits).toBe(25);
      // warnings are emitted on the next tick
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
      const closed = gateway.close({ deadlineMs: 1_000 });
      expect((await Promise.all(held)).map((r) => r.statusCode)).toEqual(Array.from({ length: 25 }, () => 202));
      await closed;
    } finally {
      process.off('warning', onWarning);
      await app.close();
    }
  });
});
