import { describe, expect, it } from 'vitest';
import type { HeraldError } from '@herald/core';
import { AWAIT_START_STEP, DEFAULT_AWAIT_START_MS, defineSaga, givenSaga, MAX_DEADLINE_MS, on, sagaEvent } from '../src/index.js';
import { AWAIT_START_MS, OrderPlaced, OrderSaga, PaymentProcessed, SeatsReserved } from './orderSaga.js';

const ORDER = 'o-1';
const T0 = Date.UTC(2026, 0, 1);
const placed = () => sagaEvent(OrderPlaced, { orderId: ORDER, seats: 2, totalCents: 5000 }, { correlationId: ORDER });
const reserved = () => sagaEvent(SeatsReserved, { orderId: ORDER, reservationId: 'r-9' }, { correlationId: ORDER });
const paid = () => sagaEvent(PaymentProcessed, { orderId: ORDER, success: true, amountCents: 5000 }, { correlationId: ORDER });

describe('an instance waiting for its start event', () => {
  it('ends, never started, when its start event does not come within awaitStartMs of the last event it kept', () => {
    const scenario = givenSaga(OrderSaga, { startMs: T0 });
    expect(scenario.when(reserved()).deadlines).toEqual([{ kind: 'schedule', step: AWAIT_START_STEP, at: T0 + AWAIT_START_MS }]);
    scenario.whenTimePasses(AWAIT_START_MS - 1);
    // another event of the flow: the wait starts again
    expect(scenario.when(paid()).outcome).toBe('deferred');
    expect(scenario.pendingDeadlines()).toEqual([{ step: AWAIT_START_STEP, at: T0 + 2 * AWAIT_START_MS - 1 }]);
    expect(scenario.whenTimePasses(AWAIT_START_MS - 1).outcome).toBe('ignored');
    expect(scenario.state?.status).toBe('awaiting-start');

    const ended = scenario.whenTimePasses(1);
    expect(ended.transitions).toEqual([{ type: 'SagaStartTimedOut', deadlineAt: T0 + 2 * AWAIT_START_MS - 1, earlyEvents: 2 }]);
    expect(ended.published).toEqual([]);
    expect(ended.state).toMatchObject({
      status: 'failed',
      startedAt: null,
      endedAt: T0 + 2 * AWAIT_START_MS - 1,
      data: null,
      failure: { step: AWAIT_START_STEP, reason: `no start event (OrderPlaced) within ${AWAIT_START_MS} ms`, timedOut: true },
    });
    // the events it kept stay in its state, for a look
    expect(ended.state?.early.map((e) => e.type)).toEqual(['SeatsReserved', 'PaymentProcessed']);

    // the start event that comes after that, and any other event of the flow, change nothing:
    // a payment of a flow that never started is not refunded by the saga
    for (const late of [placed(), reserved(), paid()]) expect(scenario.when(late).outcome).toBe('ignored');
    expect(scenario.state?.status).toBe('failed');
  });

  it('cancels the wait when its start event comes, and applies the events it kept', () => {
    const scenario = givenSaga(OrderSaga, { startMs: T0 }).given(reserved());
    const started = scenario.when(placed());
    expect(started.deadlines[0]).toEqual({ kind: 'cancel', step: AWAIT_START_STEP });
    expect(scenario.pendingDeadlines().map((d) => d.step)).toEqual(['payment']);
    expect(started.transitionTypes).toEqual(['SagaStarted', 'SagaStepCompleted']);
    // a start timer redriven later changes nothing
    expect(scenario.when(sagaEvent(OrderPlaced, { orderId: ORDER, seats: 2, totalCents: 5000 }, { correlationId: ORDER })).outcome).toBe('ignored');
    expect(scenario.state?.status).toBe('running');
  });

  it('waits 7 days by default; awaitStartMs must be a positive number of ms up to 100 years', () => {
    const saga = (awaitStartMs?: number) => defineSaga({ name: 's', startedBy: OrderPlaced, initial: () => ({}), ...(awaitStartMs === undefined ? {} : { awaitStartMs }) });
    expect(saga().awaitStartMs).toBe(DEFAULT_AWAIT_START_MS);
    expect(DEFAULT_AWAIT_START_MS).toBe(7 * 24 * 3_600_000);
    expect(saga(1.5).awaitStartMs).toBe(2);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, MAX_DEADLINE_MS + 1]) {
      let error: unknown;
      try {
        saga(bad);
      } catch (caught) {
        error = caught;
      }
      expect((error as HeraldError | undefined)?.code, String(bad)).toBe('invalid-options');
      expect((error as Error).message).toMatch(/awaitStartMs must be a positive number of ms up to 3155760000000 \(100 years\)/);
    }
    // a step cannot take the start timer's name
    expect(() => saga().step(AWAIT_START_STEP, { completedBy: on(SeatsReserved) })).toThrow(/must match/);
  });
});
