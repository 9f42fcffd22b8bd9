import { afterEach, expect, it } from 'vitest';
import { createManualClock } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { findSaga } from '../src/index.js';
import { OrderPlaced, OrderSaga } from './orderSaga.js';
import { closeApp, eventually, kinds, observe, sagaApp, T0 } from './runtimeSuite.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const ROLLED_BACK = new Error('the batch this work shared rolled back');

it('counts a saga change once when the store runs its transaction work again (as a group commit does after a rollback)', async () => {
  const clock = createManualClock(T0);
  const inner = memoryStores({ clock });
  let reruns = 0;
  // every transaction's work runs once in a transaction that rolls back, then again for real
  const stores = {
    ...inner,
    async transaction<T>(work: (tx: MemoryTx) => Promise<T>): Promise<T> {
      await inner
        .transaction(async (tx) => {
          await work(tx);
          throw ROLLED_BACK;
        })
        .catch((error: unknown) => {
          if (error !== ROLLED_BACK) throw error;
          reruns++;
        });
      return inner.transaction(work);
    },
  };
  const broker = memoryBroker({ partitions: 2 });
  const observed = observe();
  const app = sagaApp({ broker, stores }, clock, observed, { billing: true });
  cleanups.push(() => closeApp(app, clock));
  await app.start();
  await app.publish(OrderPlaced, { orderId: 'o-9', seats: 1, totalCents: 300 }, { correlationId: 'o-9' });
  await eventually(() => observed.transitions.some((e) => e.type === 'SagaCompleted'), 'SagaCompleted', clock);
  expect(reruns).toBeGreaterThan(3);
  expect(kinds(observed, 'o-9')).toEqual(['SagaStarted', 'SagaStepCompleted:reserve', 'SagaStepCompleted:payment', 'SagaCompleted']);
  expect(observed.facts.map((f) => f.transition)).toEqual(['started', 'step-completed', 'step-completed', 'completed']);
  expect(await findSaga(app.stores, OrderSaga, 'o-9')).toMatchObject({ status: 'completed' });
});
