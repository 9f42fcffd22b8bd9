import { givenSaga, sagaEvent } from '@herald/saga';
import { describe, expect, it } from 'vitest';
import { OrderCreated, PaymentAuthorized, PaymentDeclined, TicketIssued } from '../src/events.js';
import { ticketOrderSaga } from '../src/saga.js';

// The order's saga alone (given / when / then, no app): a step with no answer by its deadline ends
// the saga, and the saga asks payment-service and ticket-service to undo whatever they did.

const DEADLINE_MS = 60_000;
const saga = ticketOrderSaga({ stepDeadlineMs: DEADLINE_MS });
const orderId = 'o-1';
const flow = { correlationId: orderId };
const created = sagaEvent(OrderCreated, { orderId, customerId: 'c-1', flightId: 'SU100', seat: '1A', priceCents: 5_000 }, flow);
const authorized = sagaEvent(PaymentAuthorized, { orderId, paymentId: 'p-1', flightId: 'SU100', seat: '1A', amountCents: 5_000 }, flow);
const issued = sagaEvent(TicketIssued, { orderId, ticketId: 't-1', paymentId: 'p-1', flightId: 'SU100', seat: '1A' }, flow);
const undo = (reason: string) => [
  { type: 'CancelPayment', topic: 'orders', data: { orderId, reason } },
  { type: 'VoidTicket', topic: 'payments', data: { orderId, reason } },
];

describe('the ticket-order saga', () => {
  it('fails when the payment step has no answer by its deadline, and asks for the payment and the ticket to be undone', () => {
    const scenario = givenSaga(saga).given(created);
    expect(scenario.pendingDeadlines()).toEqual([{ step: 'payment', at: scenario.now + DEADLINE_MS }]);
    const result = scenario.whenTimePasses(DEADLINE_MS);
    expect(result.transitionTypes).toEqual(['SagaStepTimedOut', 'SagaFailed']);
    expect(result.state?.failure).toEqual({ step: 'payment', reason: `no answer within ${DEADLINE_MS} ms`, timedOut: true });
    expect(result.published).toEqual(undo(`payment: no answer within ${DEADLINE_MS} ms`));
  });

  it('fails when the ticket step has no answer by its deadline: the payment it saw is compensated, the ticket voided', () => {
    const scenario = givenSaga(saga).given(created, authorized);
    const result = scenario.whenTimePasses(DEADLINE_MS);
    expect(result.transitionTypes).toEqual(['SagaStepTimedOut', 'SagaCompensating', 'SagaFailed']);
    expect(result.published).toEqual([
      { type: 'CancelPayment', topic: 'orders', data: { orderId, reason: 'ticket-order saga failed' } },
      { type: 'VoidTicket', topic: 'payments', data: { orderId, reason: `ticket: no answer within ${DEADLINE_MS} ms` } },
    ]);
  });

  it('undoes again a payment or a ticket that completes after the saga failed (a letter redriven before its cancellation)', () => {
    const late = givenSaga(saga).given(created);
    late.whenTimePasses(DEADLINE_MS);
    expect(late.when(authorized)).toMatchObject({ transitionTypes: ['SagaCompensating'], published: [{ type: 'CancelPayment', data: { orderId, reason: 'ticket-order saga failed' } }] });
    const ticketed = givenSaga(saga).given(created, authorized);
    ticketed.whenTimePasses(DEADLINE_MS);
    expect(ticketed.when(issued)).toMatchObject({ transitionTypes: ['SagaCompensating'], published: [{ type: 'VoidTicket', data: { orderId, reason: 'ticket-order saga failed' } }] });
  });

  it('asks for nothing to be undone when the payment is declined (nothing was taken), and sets no deadline once it completed', () => {
    const declined = sagaEvent(PaymentDeclined, { orderId, paymentId: 'p-1', amountCents: 500_000, limitCents: 100_000, reason: 'amount over the payment limit' }, flow);
    expect(givenSaga(saga).given(created).when(declined)).toMatchObject({ transitionTypes: ['SagaFailed'], published: [] });
    const done = givenSaga(saga).given(created, authorized);
    expect(done.when(issued).transitionTypes).toEqual(['SagaStepCompleted', 'SagaCompleted']);
    expect(done.pendingDeadlines()).toEqual([]);
  });
});
