import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { findSaga } from '../src/index.js';
import { OrderPlaced, OrderSaga, PAYMENT_DEADLINE_MS } from './orderSaga.js';
import { closeApp, eventually, kinds, observe, sagaApp, T0 } from './runtimeSuite.js';

// The Clock port gives ms since the epoch, not whole ms: a high-resolution clock
// (`performance.timeOrigin + performance.now()`) or a manual one advanced by fractions. The saga
// topic's events carry whole ms (deadlineAt, durationMs), so a saga must run on such a clock too.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(clock: ManualClock, billing: boolean) {
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-saga-clock-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const engine = sqliteEngine({ dataDir, stores: { clock } });
  const observed = observe();
  const app = sagaApp({ broker: engine.broker, stores: engine.stores }, clock, observed, { billing, saga: { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 } } });
  cleanups.push(() => closeApp(app, clock));
  await app.start();
  return { app, observed };
}

/** What the saga's handler dead-lettered (its events, with the reason), if anything. */
async function sagaDeadLetters(app: { stores: { deadLetters: { list(filter: object): Promise<readonly { group: string; eventType: string | null; reason: string }[]> } } }) {
  const letters = await app.stores.deadLetters.list({});
  return letters.filter((letter) => letter.group === 'order-saga').map((letter) => [letter.eventType, letter.reason]);
}

describe('a saga on a clock with fractions of a ms', () => {
  it('runs a flow to SagaCompleted, with nothing dead-lettered', async () => {
    const clock = createManualClock(T0 + 0.25);
    const { app, observed } = await started(clock, true);
    await app.publish(OrderPlaced, { orderId: 'o-1', seats: 1, totalCents: 100 }, { correlationId: 'o-1' });
    await eventually(() => observed.transitions.some((e) => e.type === 'SagaCompleted'), 'SagaCompleted', clock);
    expect(kinds(observed, 'o-1')).toEqual(['SagaStarted', 'SagaStepCompleted:reserve', 'SagaStepCompleted:payment', 'SagaCompleted']);
    expect(await sagaDeadLetters(app)).toEqual([]);
  });

  it('times a step out on its deadline, with nothing dead-lettered', async () => {
    const clock = createManualClock(T0 + 0.75);
    const { app, observed } = await started(clock, false);
    await app.publish(OrderPlaced, { orderId: 'o-2', seats: 1, totalCents: 100 }, { correlationId: 'o-2' });
    await eventually(async () => (await findSaga(app.stores, OrderSaga, 'o-2'))?.steps[1]?.status === 'active', 'the payment step active', clock);
    await clock.advance(PAYMENT_DEADLINE_MS + 0.5);
    await eventually(() => observed.transitions.some((e) => e.type === 'SagaFailed'), 'SagaFailed', clock);
    expect(observed.transitions.find((e) => e.type === 'SagaFailed')?.data).toMatchObject({ step: 'payment', timedOut: true });
    expect(await sagaDeadLetters(app)).toEqual([]);
  });
});
