import { defineSaga, emit, on } from '@herald/saga';
import { OrderCreated, PaymentProcessed, RefundRequested, SAGA_NAME } from './events.js';

/** What the saga keeps of an order. */
export interface OrderSagaData {
  readonly orderId: string;
  readonly requestId: string;
  readonly username: string;
  readonly totalCents: number;
}

/**
 * The order's saga (seed 004: "wait for payment no more than 30 seconds"). OrderCreated starts it;
 * the payment step ends with billing's PaymentProcessed, or fails when its deadline passes first.
 * Billing takes no money for an order past its `payBy` (the same deadline, on the order service's
 * clock) and answers PAYMENT_EXPIRED; a payment that still succeeds after the deadline (billing's
 * clock behind, or its answer overtaken by the deadline) is compensated at once with a refund, so
 * no money is kept for an order that was given up. Keyed by the flow's correlation id, the
 * client's request id.
 */
export function orderSaga(paymentTimeoutMs: number) {
  return defineSaga({
    name: SAGA_NAME,
    startedBy: OrderCreated,
    initial: (event): OrderSagaData => ({ orderId: event.data.orderId, requestId: event.data.requestId, username: event.data.username, totalCents: event.data.totalCents }),
  }).step('payment', {
    deadlineMs: paymentTimeoutMs,
    completedBy: on(PaymentProcessed, { when: (event) => event.data.success }),
    failedBy: on(PaymentProcessed, { when: (event) => !event.data.success, reason: (event) => event.data.failureReason ?? 'PAYMENT_FAILED' }),
    compensate: (d) => [emit(RefundRequested, { orderId: d.orderId, requestId: d.requestId, username: d.username, amountCents: d.totalCents })],
  });
}
