import { defineSaga, on } from '@herald/saga';
import { OrderCreated, PaymentAuthorized, PaymentDeclined, TicketIssued } from './events.js';

/** What the saga keeps of an order. */
export interface TicketOrderData {
  readonly orderId: string;
}

/**
 * The order's saga (seed 003), choreographed: payment-service and ticket-service react to the
 * events on their own; the saga follows the order — payment authorized or declined, then the
 * ticket issued — and publishes each transition on `ticket-order-saga`. A declined payment fails
 * it; what undoes the order (CANCELLED, which frees the seat) is the order-service's effect of that
 * failure. Keyed by the order's correlation id, which is its order id.
 */
export const TicketOrderSaga = defineSaga({
  name: 'ticket-order',
  startedBy: OrderCreated,
  initial: (event): TicketOrderData => ({ orderId: event.data.orderId }),
})
  .step('payment', {
    completedBy: on(PaymentAuthorized),
    failedBy: on(PaymentDeclined, { reason: (event) => event.data.reason }),
  })
  .step('ticket', { completedBy: on(TicketIssued) });
