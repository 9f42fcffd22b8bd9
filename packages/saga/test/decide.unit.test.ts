import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { defineEvent, HeraldError } from '@herald/core';
import { decideSaga, defineSaga, givenSaga, MAX_DEADLINE_MS, MAX_EARLY_EVENTS, on, sagaEvent, SagaErrorCodes } from '../src/index.js';
import { OrderPlaced, OrderSaga, PAYMENT_DEADLINE_MS, PaymentProcessed, SeatsReserved, SeatsUnavailable } from './orderSaga.js';

const ORDER = 'o-1';
const T0 = Date.UTC(2026, 0, 1);
const placed = () => sagaEvent(OrderPlaced, { orderId: ORDER, seats: 2, totalCents: 5000 }, { correlationId: ORDER });
const reserved = () => sagaEvent(SeatsReserved, { orderId: ORDER, reservationId: 'r-9' }, { correlationId: ORDER });
const paid = (success = true) => sagaEvent(PaymentProcessed, { orderId: ORDER, success, amountCents: 5000, ...(success ? {} : { reason: 'INSUFFICIENT_FUNDS' }) }, { correlationId: ORDER });

describe('a saga decides', () => {
  it('starts on its start event: SagaStarted, the first step active and asked for', () => {
    const result = givenSaga(OrderSaga, { startMs: T0 }).when(placed());
    expect(result.outcome).toBe('applied');
    expect(result.transitions).toEqual([{ type: 'SagaStarted', steps: ['reserve', 'payment'] }]);
    expect(result.published).toEqual([{ type: 'ReserveSeats', topic: 'inventory.commands', data: { orderId: ORDER, seats: 2 } }]);
    expect(result.state?.status).toBe('running');
    expect(result.state?.steps.map((s) => [s.name, s.status])).toEqual([['reserve', 'active'], ['payment', 'waiting']]);
    expect(result.deadlines).toEqual([]);
  });

  it('runs every step to SagaCompleted, with the deadline of the payment step set then cancelled', () => {
    const scenario = givenSaga(OrderSaga, { startMs: T0 }).given(placed());
    const afterReserve = scenario.whenTimePasses(1_000) && scenario.when(reserved());
    expect(afterReserve.transitionTypes).toEqual(['SagaStepCompleted']);
    expect(afterReserve.published.map((p) => p.type)).toEqual(['ChargeCard']);
    expect(afterReserve.deadlines).toEqual([{ kind: 'schedule', step: 'payment', at: T0 + 1_000 + PAYMENT_DEADLINE_MS }]);
    expect(scenario.pendingDeadlines()).toEqual([{ step: 'payment', at: T0 + 1_000 + PAYMENT_DEADLINE_MS }]);

    scenario.whenTimePasses(2_000);
    const done = scenario.when(paid());
    expect(done.transitions).toEqual([{ type: 'SagaStepCompleted', step: 'payment' }, { type: 'SagaCompleted', durationMs: 3_000 }]);
    expect(done.published).toEqual([{ type: 'OrderStatusUpdated', topic: 'orders.status', data: { orderId: ORDER, status: 'PAID' } }]);
    expect(done.deadlines).toEqual([{ kind: 'cancel', step: 'payment' }]);
    expect(scenario.pendingDeadlines()).toEqual([]);
    expect(done.state).toMatchObject({ status: 'completed', startedAt: T0, endedAt: T0 + 3_000, data: { reservationId: 'r-9', paidCents: 5000 } });
    // the cancelled deadline never fires
    expect(scenario.whenTimePasses(PAYMENT_DEADLINE_MS * 2).outcome).toBe('ignored');
  });

  it('compensates the completed steps, last first, when a step fails', () => {
    const scenario = givenSaga(OrderSaga).given(placed(), reserved());
    const result = scenario.when(paid(false));
    expect(result.transitionTypes).toEqual(['SagaCompensating', 'SagaFailed']);
    expect(result.transitions[1]).toEqual({ type: 'SagaFailed', step: 'payment', reason: 'INSUFFICIENT_FUNDS', timedOut: false, durationMs: 0 });
    expect(result.published.map((p) => [p.type, p.data])).toEqual([
      ['ReleaseSeats', { orderId: ORDER, reservationId: 'r-9' }],
      ['OrderStatusUpdated', { orderId: ORDER, status: 'INSUFFICIENT_FUNDS' }],
    ]);
    expect(result.deadlines).toEqual([{ kind: 'cancel', step: 'payment' }]);
    expect(result.state?.steps.map((s) => s.status)).toEqual(['compensated', 'failed']);
  });

  it('fails a first step with nothing to compensate: no SagaCompensating', () => {
    const result = givenSaga(OrderSaga).given(placed()).when(sagaEvent(SeatsUnavailable, { orderId: ORDER }, { correlationId: ORDER }));
    expect(result.transitions).toEqual([{ type: 'SagaFailed', step: 'reserve', reason: 'SOLD_OUT', timedOut: false, durationMs: 0 }]);
    expect(result.published.map((p) => p.data)).toEqual([{ orderId: ORDER, status: 'SOLD_OUT' }]);
  });

  it('times a step out when its deadline passes first, and refunds a payment that comes later', () => {
    const scenario = givenSaga(OrderSaga, { startMs: T0 }).given(placed(), reserved());
    expect(scenario.whenTimePasses(PAYMENT_DEADLINE_MS - 1).outcome).toBe('ignored');
    const timedOut = scenario.whenTimePasses(1);
    expect(timedOut.transitions).toEqual([
      { type: 'SagaStepTimedOut', step: 'payment', deadlineAt: T0 + PAYMENT_DEADLINE_MS },
      { type: 'SagaCompensating', steps: ['reserve'], reason: `payment: no answer within ${PAYMENT_DEADLINE_MS} ms` },
      { type: 'SagaFailed', step: 'payment', reason: `no answer within ${PAYMENT_DEADLINE_MS} ms`, timedOut: true, durationMs: PAYMENT_DEADLINE_MS },
    ]);
    expect(timedOut.published.map((p) => p.type)).toEqual(['ReleaseSeats', 'OrderStatusUpdated']);
    expect(timedOut.published[1]!.data).toEqual({ orderId: ORDER, status: 'PAYMENT_TIMEOUT' });
    expect(timedOut.deadlines).toEqual([]);

    const late = scenario.when(paid());
    expect(late.transitions).toEqual([{ type: 'SagaCompensating', steps: ['payment'], reason: 'payment completed after the saga failed' }]);
    expect(late.published).toEqual([{ type: 'RefundPayment', topic: 'billing.commands', data: { orderId: ORDER, amountCents: 5000 } }]);
    expect(late.state?.status).toBe('failed');
    expect(late.state?.steps.map((s) => s.status)).toEqual(['compensated', 'compensated']);
    // the same late payment again (a redelivery under a new id) is not refunded twice
    expect(scenario.when(paid()).outcome).toBe('ignored');
  });

  it('times a step out when its event is handled after the deadline, before the deadline itself: the payment is refunded either way', () => {
    const before = givenSaga(OrderSaga, { startMs: T0 }).given(placed(), reserved()).state!;
    const deadlineAt = T0 + PAYMENT_DEADLINE_MS;
    // the saga's group was down past the deadline: the payment's event comes first
    const late = decideSaga(OrderSaga, before, { kind: 'event', event: paid() }, deadlineAt + 60_000);
    expect(late.transitions).toEqual([
      { type: 'SagaStepTimedOut', step: 'payment', deadlineAt },
      { type: 'SagaCompensating', steps: ['reserve'], reason: `payment: no answer within ${PAYMENT_DEADLINE_MS} ms` },
      { type: 'SagaFailed', step: 'payment', reason: `no answer within ${PAYMENT_DEADLINE_MS} ms`, timedOut: true, durationMs: PAYMENT_DEADLINE_MS + 60_000 },
      { type: 'SagaCompensating', steps: ['payment'], reason: 'payment completed after the saga failed' },
    ]);
    expect(late.commands.map((c) => [c.definition.type, c.data])).toEqual([
      ['ReleaseSeats', { orderId: ORDER, reservationId: 'r-9' }],
      ['OrderStatusUpdated', { orderId: ORDER, status: 'PAYMENT_TIMEOUT' }],
      ['RefundPayment', { orderId: ORDER, amountCents: 5000 }],
    ]);
    expect(late.deadlines).toEqual([{ kind: 'cancel', step: 'payment' }]);
    // the deadline's own input, when it comes, changes nothing
    expect(decideSaga(OrderSaga, late.state, { kind: 'deadline', step: 'payment', deadlineAt }, deadlineAt + 61_000).outcome).toBe('ignored');
    // a failure handled after the deadline is a time-out too
    const failed = decideSaga(OrderSaga, before, { kind: 'event', event: paid(false) }, deadlineAt);
    expect(failed.transitions.map((t) => t.type)).toEqual(['SagaStepTimedOut', 'SagaCompensating', 'SagaFailed']);
    // one millisecond before it, the payment completes the saga
    expect(decideSaga(OrderSaga, before, { kind: 'event', event: paid() }, deadlineAt - 1).transitions.map((t) => t.type)).toEqual(['SagaStepCompleted', 'SagaCompleted']);
  });

  it("times the active step out when a later step's event is handled after its deadline: the same failure whichever comes first", () => {
    // payment first (with its deadline), then the seats, whose answer may come early
    const PayFirst = defineSaga({ name: 'pay-first', startedBy: OrderPlaced, initial: () => ({ paid: false }) })
      .step('payment', { deadlineMs: PAYMENT_DEADLINE_MS, completedBy: on(PaymentProcessed) })
      .step('reserve', { completedBy: on(SeatsReserved), failedBy: on(SeatsUnavailable, { reason: () => 'SOLD_OUT' }) });
    const before = givenSaga(PayFirst, { startMs: T0 }).given(placed()).state!;
    const deadlineAt = T0 + PAYMENT_DEADLINE_MS;
    const deadline = { kind: 'deadline', step: 'payment', deadlineAt } as const;
    const soldOut = { kind: 'event', event: sagaEvent(SeatsUnavailable, { orderId: ORDER }, { correlationId: ORDER }) } as const;
    const timedOut = { step: 'payment', reason: `no answer within ${PAYMENT_DEADLINE_MS} ms`, timedOut: true };

    // the deadline's input first, then the seats' answer: the payment timed out, the answer changes nothing
    const deadlineFirst = decideSaga(PayFirst, before, deadline, deadlineAt + 5_000);
    expect(deadlineFirst.state?.failure).toEqual(timedOut);
    expect(decideSaga(PayFirst, deadlineFirst.state, soldOut, deadlineAt + 5_000).outcome).toBe('ignored');

    // the seats' answer handled first, after the deadline: the payment timed out first all the same
    const answerFirst = decideSaga(PayFirst, before, soldOut, deadlineAt + 5_000);
    expect(answerFirst.transitions.map((t) => t.type)).toEqual(['SagaStepTimedOut', 'SagaFailed']);
    expect(answerFirst.state?.failure).toEqual(timedOut);
    expect(answerFirst.state?.steps.map((s) => s.status)).toEqual(['timed-out', 'waiting']);
    expect(answerFirst.deadlines).toEqual([{ kind: 'cancel', step: 'payment' }]);
    expect(decideSaga(PayFirst, answerFirst.state, deadline, deadlineAt + 5_001).outcome).toBe('ignored');
    // one millisecond before the deadline, the same answer fails the saga on its own account
    expect(decideSaga(PayFirst, before, soldOut, deadlineAt - 1).state?.failure).toEqual({ step: 'reserve', reason: 'SOLD_OUT', timedOut: false });
  });

  it('applies an early event kept by an earlier release as the version the saga reads now', () => {
    // the release that kept it read SeatsReserved version 1; this one reads version 2, which adds a hold
    const SeatsReservedV2 = defineEvent({
      type: SeatsReserved.type,
      version: 2,
      topic: SeatsReserved.topic,
      key: (d) => d.orderId,
      schema: Type.Object({ orderId: Type.String(), reservationId: Type.String(), holdMinutes: Type.Integer() }),
      upcast: { from: SeatsReserved, data: (v1) => ({ ...v1, holdMinutes: 15 }) },
    });
    const upgraded = defineSaga({ name: 'order', startedBy: OrderPlaced, initial: (e) => ({ orderId: e.data.orderId, hold: 0 }) }).step('reserve', {
      completedBy: on(SeatsReservedV2, { update: (d: { orderId: string; hold: number }, e) => ({ ...d, hold: e.data.holdMinutes }) }),
    });
    const kept = decideSaga(OrderSaga, undefined, { kind: 'event', event: reserved() }, T0);
    expect(kept.state?.early.map((e) => e.version)).toEqual([1]);
    const started = decideSaga(upgraded, kept.state as never, { kind: 'event', event: placed() }, T0 + 1);
    expect(started.transitions.map((t) => t.type)).toEqual(['SagaStarted', 'SagaStepCompleted', 'SagaCompleted']);
    expect(started.state?.data).toEqual({ orderId: ORDER, hold: 15 });
    // a scenario fed an earlier version directly reads it as the runtime would: upcast
    const scenario = givenSaga(upgraded).given(placed());
    expect(scenario.when(reserved()).state?.data).toEqual({ orderId: ORDER, hold: 15 });
    // a release that reads no earlier version refuses it, naming it
    const SeatsReservedV3 = defineEvent({ type: SeatsReserved.type, version: 3, topic: SeatsReserved.topic, key: (d) => d.orderId, schema: Type.Object({ orderId: Type.String() }) });
    const strict = defineSaga({ name: 'order', startedBy: OrderPlaced, initial: () => ({}) }).step('reserve', { completedBy: on(SeatsReservedV3) });
    expect(() => decideSaga(strict, kept.state as never, { kind: 'event', event: placed() }, T0 + 1)).toThrow(expect.objectContaining({ code: 'unknown-event-type', message: expect.stringContaining('version 1 of SeatsReserved') }));
  });

  it('keeps events that come before the start event and applies them, in order, when it comes', () => {
    const scenario = givenSaga(OrderSaga);
    expect(scenario.when(reserved()).outcome).toBe('deferred');
    expect(scenario.state?.status).toBe('awaiting-start');
    const started = scenario.when(placed());
    expect(started.transitionTypes).toEqual(['SagaStarted', 'SagaStepCompleted']);
    expect(started.published.map((p) => p.type)).toEqual(['ReserveSeats', 'ChargeCard']);
    expect(started.state?.early).toEqual([]);
    expect(started.state?.data?.reservationId).toBe('r-9');
  });

  it('ignores a second start, a duplicate step event, an event of another type and a stale deadline', () => {
    const event = reserved();
    const scenario = givenSaga(OrderSaga).given(placed(), event);
    expect(scenario.when(placed()).outcome).toBe('ignored');
    expect(scenario.when(event).outcome).toBe('ignored');
    const other = defineEvent({ type: 'Unrelated', topic: 'x', key: () => 'k', schema: Type.Object({}) });
    expect(scenario.when(sagaEvent(other, {}, { correlationId: ORDER })).outcome).toBe('ignored');
    const state = scenario.state;
    const stale = decideSaga(OrderSaga, state, { kind: 'deadline', step: 'payment', deadlineAt: 1 }, 10 ** 9);
    expect(stale.outcome).toBe('ignored');
    expect(stale.state).toBe(state);
  });

  it('gives an event type two steps complete on to the step whose turn it is, early events included', () => {
    const Approved = defineEvent({ type: 'Approved', topic: 'approvals', key: (d) => d.orderId, schema: Type.Object({ orderId: Type.String() }) });
    const approved = () => sagaEvent(Approved, { orderId: ORDER }, { correlationId: ORDER });
    const saga = defineSaga({ name: 'approvals', startedBy: OrderPlaced, initial: () => ({}) })
      .step('manager', { completedBy: on(Approved) })
      .step('director', { completedBy: on(Approved) });
    const scenario = givenSaga(saga).given(approved(), approved());
    expect(scenario.when(placed()).transitionTypes).toEqual(['SagaStarted', 'SagaStepCompleted', 'SagaStepCompleted', 'SagaCompleted']);
  });

  it('never mutates the state it is given', () => {
    const scenario = givenSaga(OrderSaga).given(placed());
    const before = scenario.state!;
    const frozen = JSON.stringify(before);
    const decision = decideSaga(OrderSaga, before, { kind: 'event', event: reserved() }, 5);
    expect(decision.outcome).toBe('applied');
    expect(JSON.stringify(before)).toBe(frozen);
  });

  it(`refuses more than ${MAX_EARLY_EVENTS} events waiting for a start event`, () => {
    const scenario = givenSaga(OrderSaga);
    for (let i = 0; i < MAX_EARLY_EVENTS; i++) scenario.when(reserved());
    expect(scenario.state?.early).toHaveLength(MAX_EARLY_EVENTS);
    let error: unknown;
    try {
      scenario.when(reserved());
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).code).toBe(SagaErrorCodes.earlyEventsOverflow);
  });
});

describe('defineSaga refuses', () => {
  const expectInvalid = (build: () => unknown, message: RegExp) => {
    let error: unknown;
    try {
      build();
    } catch (caught) {
      error = caught;
    }
    expect((error as HeraldError).code).toBe('invalid-options');
    expect((error as Error).message).toMatch(message);
  };

  it('a bad name, a step without completions, a bad deadline, a duplicate step and the start event as a step event', () => {
    const base = () => defineSaga({ name: 'order', startedBy: OrderPlaced, initial: () => ({}) });
    expectInvalid(() => defineSaga({ name: 'has space', startedBy: OrderPlaced, initial: () => ({}) }), /name "has space"/);
    expectInvalid(() => base().step('a', { completedBy: [] }), /completedBy needs at least one event/);
    expectInvalid(() => base().step('a', { completedBy: on(SeatsReserved), deadlineMs: -1 }), /deadlineMs must be a positive number/);
    // beyond a Date's range once added to now: its timer would be refused at every start
    expectInvalid(() => base().step('a', { completedBy: on(SeatsReserved), deadlineMs: 1e16 }), /deadlineMs must be a positive number of ms up to 3155760000000 \(100 years\), got 10000000000000000/);
    expect(base().step('a', { completedBy: on(SeatsReserved), deadlineMs: MAX_DEADLINE_MS }).steps[0]!.deadlineMs).toBe(MAX_DEADLINE_MS);
    expectInvalid(() => base().step('a', { completedBy: on(SeatsReserved) }).step('a', { completedBy: on(SeatsReserved) }), /exists already/);
    expectInvalid(() => base().step('a', { completedBy: on(OrderPlaced) }), /starts the saga/);
    expectInvalid(() => givenSaga(OrderSaga).whenTimePasses(-5), /ms must be a number >= 0/);
    expectInvalid(() => sagaEvent(OrderPlaced, { orderId: 'x', seats: 1, totalCents: 1 }, { correlationId: '' }), /correlationId/);
  });
});

describe('a saga scenario on fractions of a ms', () => {
  it('decides at whole ms, as the runtime does: deadlines, times and durations are whole', () => {
    const scenario = givenSaga(OrderSaga, { startMs: T0 + 0.75 }).given(placed());
    const afterReserve = scenario.whenTimePasses(1_000.5) && scenario.when(reserved());
    expect(afterReserve.deadlines).toEqual([{ kind: 'schedule', step: 'payment', at: T0 + 1_001 + PAYMENT_DEADLINE_MS }]);
    scenario.whenTimePasses(2_000.5);
    const done = scenario.when(paid());
    expect(done.transitions).toEqual([{ type: 'SagaStepCompleted', step: 'payment' }, { type: 'SagaCompleted', durationMs: 3_001 }]);
    expect(done.state).toMatchObject({ startedAt: T0, endedAt: T0 + 3_001 });
  });
});
