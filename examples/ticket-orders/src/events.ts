import { defineEvent } from '@herald/core';
import { Type } from '@sinclair/typebox';

/**
 * The saga's events (seed 003): OrderCreated -> PaymentAuthorized -> TicketIssued, or
 * OrderCreated -> PaymentDeclined (compensation). Every event is keyed by its order id, so one
 * order's events stay in order on every topic.
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

/** Every event type of the example, registered in each process. */
export const EVENTS = [OrderCreated, PaymentAuthorized, PaymentDeclined, TicketIssued];

/** Topics with their partition counts, provisioned at start. */
export const TOPICS = [
  { name: 'orders', partitions: 8 },
  { name: 'payments', partitions: 8 },
  { name: 'tickets', partitions: 8 },
  // the order saga's transitions (see saga.ts), keyed by order id
  { name: 'ticket-order-saga', partitions: 8 },
];

/** Consumer groups (one per service), and the event types each one handles. */
export const GROUPS = {
  payment: 'payment-service',
  ticket: 'ticket-service',
  order: 'order-service',
} as const;

/** Which consumer groups handle each event type (for the workflow view): order-service runs the saga, which follows them all. */
export const CONSUMERS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  OrderCreated: [GROUPS.payment, GROUPS.order],
  PaymentAuthorized: [GROUPS.ticket, GROUPS.order],
  PaymentDeclined: [GROUPS.order],
  TicketIssued: [GROUPS.order],
};
