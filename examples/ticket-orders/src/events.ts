import { defineEvent } from '@herald/core';
import { Type } from '@sinclair/typebox';

/**
 * The saga's events (seed 003): OrderCreated -> PaymentAuthorized -> TicketIssued, or
 * OrderCreated -> PaymentDeclined (compensation); when a step misses its deadline, CancelPayment and
 * VoidTicket undo what was done. Every event is keyed by its order id, so one order's events stay
 * in order on every topic.
 */
export const OrderCreated = defineEvent({
  type: 'OrderCreated',
  topic: 'orders',
  key: (d) => d.orderId,
  schema: Type.Object({
    orderId: Type.String(),
    customerId: Type.String(),
    flightId: Type.String(),
    seat: Type.String(),
    priceCents: Type.Integer({ minimum: 1 }),
  }),
});

/** payment-service charged the order. */
export const PaymentAuthorized = defineEvent({
  type: 'PaymentAuthorized',
  topic: 'payments',
  key: (d) => d.orderId,
  schema: Type.Object({
    orderId: Type.String(),
    paymentId: Type.String(),
    flightId: Type.String(),
    seat: Type.String(),
    amountCents: Type.Integer({ minimum: 1 }),
  }),
});

/** payment-service refused the payment (price over the limit): the compensation path. */
export const PaymentDeclined = defineEvent({
  type: 'PaymentDeclined',
  topic: 'payments',
  key: (d) => d.orderId,
  schema: Type.Object({
    orderId: Type.String(),
    paymentId: Type.String(),
    amountCents: Type.Integer({ minimum: 1 }),
    limitCents: Type.Integer({ minimum: 0 }),
    reason: Type.String(),
  }),
});

/** ticket-service issued the ticket. */
export const TicketIssued = defineEvent({
  type: 'TicketIssued',
  topic: 'tickets',
  key: (d) => d.orderId,
  schema: Type.Object({
    orderId: Type.String(),
    ticketId: Type.String(),
    paymentId: Type.String(),
    flightId: Type.String(),
    seat: Type.String(),
  }),
});

/**
 * The order failed (a saga step missed its deadline, or order-service's saga could not follow it):
 * payment-service refunds the order's payment if it took one, and takes none afterwards. It travels
 * on `orders`, the topic payment-service reads OrderCreated from, keyed by the order id, so it is
 * handled after the order's OrderCreated whenever that one comes (late, or redriven).
 */
export const CancelPayment = defineEvent({
  type: 'CancelPayment',
  topic: 'orders',
  key: (d) => d.orderId,
  schema: Type.Object({ orderId: Type.String(), reason: Type.String() }),
});

/**
 * The order failed: ticket-service voids the order's ticket if it issued one, and issues none
 * afterwards. It travels on `payments`, the topic ticket-service reads PaymentAuthorized from,
 * keyed by the order id, so the two are handled one after the other in the order they were written.
 */
export const VoidTicket = defineEvent({
  type: 'VoidTicket',
  topic: 'payments',
  key: (d) => d.orderId,
  schema: Type.Object({ orderId: Type.String(), reason: Type.String() }),
});

/** Every event type of the example, registered in each process. */
export const EVENTS = [OrderCreated, PaymentAuthorized, PaymentDeclined, TicketIssued, CancelPayment, VoidTicket];

/** Topics with their partition counts, provisioned at start. */
export const TOPICS = [
  { name: 'orders', partitions: 8 },
  { name: 'payments', partitions: 8 },
  { name: 'tickets', partitions: 8 },
  // the order saga's transitions (see saga.ts), keyed by order id
  { name: 'ticket-order-saga', partitions: 8 },
  // its steps' deadlines (SagaDeadlineReached, fired by the durable timers), for order-service
  { name: 'ticket-order-saga-deadlines', partitions: 8 },
];

/** Consumer groups (one per service), and the event types each one handles. */
export const GROUPS = {
  payment: 'payment-service',
  ticket: 'ticket-service',
  order: 'order-service',
} as const;

/**
 * Which consumer groups handle each event type (for the workflow view): order-service runs the
 * saga, which follows the flow's events and its steps' deadlines; the cancellations go to the
 * service that undoes what it did.
 */
export const CONSUMERS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  OrderCreated: [GROUPS.payment, GROUPS.order],
  PaymentAuthorized: [GROUPS.ticket, GROUPS.order],
  PaymentDeclined: [GROUPS.order],
  TicketIssued: [GROUPS.order],
  SagaDeadlineReached: [GROUPS.order],
  CancelPayment: [GROUPS.payment],
  VoidTicket: [GROUPS.ticket],
};
