import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createManualClock } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { findSaga, sagaEvents } from '../src/index.js';
import { OrderPlaced, OrderSaga } from './orderSaga.js';
import { closeApp, eventually, kinds, observe, sagaApp, T0 } from './runtimeSuite.js';

// A saga deadline finds its instance by the instance id in its data, not by its correlation id: a
// SagaDeadlineReached redriven or published again under another correlation id (on the embedded
// engine, real SQLite files) still times its step out.

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a saga deadline published under another correlation id', () => {
  it('times out the step of the instance its data names', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-saga-deadline-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const clock = createManualClock(T0);
    const engine = sqliteEngine({ dataDir, stores: { clock } });
    const observed = observe();
    // no billing: the payment step stays active until its deadline
    const app = sagaApp({ broker: engine.broker, stores: engine.stores }, clock, observed, { billing: false });
    cleanups.push(() => closeApp(app, clock));
    await app.start();
    await app.publish(OrderPlaced, { orderId: 'o-9', seats: 1, totalCents: 100 }, { correlationId: 'o-9' });
    await eventually(async () => (await findSaga(app.stores, OrderSaga, 'o-9'))?.steps[1]?.status === 'active', 'the payment step active', clock, 5_000);
    const payment = (await findSaga(app.stores, OrderSaga, 'o-9'))!.steps[1]!;
    // the clock stays before the deadline: only this copy of the deadline can time the step out
    const { SagaDeadlineReached } = sagaEvents(OrderSaga.topic);
    await app.publish(SagaDeadlineReached, { saga: OrderSaga.name, instanceId: 'o-9', step: 'payment', deadlineAt: payment.deadlineAt! }, { correlationId: 'redriven-elsewhere' });
    // each round lets 20 ms of the clock pass (the relay sleeps on it): 5 s of rounds stay far before the deadline
    await eventually(() => observed.transitions.some((e) => e.type === 'SagaFailed'), 'SagaFailed', clock, 5_000);
    expect(clock.now()).toBeLessThan(payment.deadlineAt!);
    // its transitions carry the instance's correlation id, not the deadline copy's
    expect(kinds(observed, 'o-9')).toContain('SagaFailed:payment');
    expect(observed.transitions.find((e) => e.type === 'SagaFailed')?.data).toMatchObject({ step: 'payment', timedOut: true });
  });
});
