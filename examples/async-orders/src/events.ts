import { defineEvent, type ValidationIssue } from '@herald/core';
import { defineRequest } from '@herald/reply';
import { Type, type Static } from '@sinclair/typebox';

// Seed 004's events, on its topics. Money is in integer cents (the seed's Double amounts lose
// cents). Every event of a user's flow is keyed by username, so one user's orders, payments,
// deposits and refunds stay in order on every topic and billing decides them one at a time.

/**
 * One item of an order as the events carry it. Events already in a log must stay readable, so this
 * schema accepts what earlier gateways let through (extra properties, a blank `sku`); what an order
 * must satisfy is in orderRules.ts, checked by the gateway at the door and by the order service on
 * every request, and the order service keeps only these three fields ({@link orderItemsOf}).
 */
export const OrderItem = Type.Object({
  sku: Type.String({ minLength: 1, maxLength: 100 }),
  quantity: Type.Integer({ minimum: 1, maximum: 1_000 }),
  priceCents: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
});

/** The items of an order, as the client sent them. */
export const OrderItems = Type.Array(OrderItem, { minItems: 1, maxItems: 100 });

/** One item of an order: what the order service stores and passes on. */
export type OrderItemData = Static<typeof OrderItem>;

/** The items with only their known fields: whatever else an event's item carries is neither stored nor passed on. */
export function orderItemsOf(items: readonly OrderItemData[]): OrderItemData[] {
  return items.map(({ sku, quantity, priceCents }) => ({ sku, quantity, priceCents }));
}

/**
 * Why billing refused a payment (`PaymentProcessed.failureReason`, and its payment's record).
 * `PAYMENT_EXPIRED`: the order came to billing at or after its `payBy`, so no money was taken for
 * an order that was given up. `PAYMENT_CANCELLED`: the order's refund came before the order (the
 * order service gave it up first), so billing never charges it; it answers nothing then.
 */
export const PAYMENT_FAILURES = { insufficientFunds: 'INSUFFICIENT_FUNDS', expired: 'PAYMENT_EXPIRED', cancelled: 'PAYMENT_CANCELLED' } as const;

/**
 * The final statuses of an order, and PENDING before it has one. REJECTED: the order service found
 * the request breaking the order rules (orderRules.ts); billing never sees such an order. FAILED:
 * the order service could not process the request at all (its OrderCreationRequested is a dead
 * letter, see services/orderFailures.ts; billing never sees it either), or the order's saga could
 * not end it (its OrderCreated or deadline is a dead letter, see services/paymentFailures.ts; what
 * billing took is given back, and billing takes nothing after).
 */
export const ORDER_STATUSES = ['PENDING', 'PAID', 'INSUFFICIENT_FUNDS', 'PAYMENT_TIMEOUT', 'REJECTED', 'FAILED'] as const;
/** One of {@link ORDER_STATUSES}. */
export type OrderStatus = (typeof ORDER_STATUSES)[number];
/** A status an order ends in. */
export type FinalStatus = Exclude<OrderStatus, 'PENDING'>;

/** auth: a user registered (user creates the profile, billing the account, notification says welcome). */
export const UserRegistered = defineEvent({
  type: 'UserRegistered',
  topic: 'users.registered',
  key: (d) => d.username,
  schema: Type.Object({ username: Type.String(), email: Type.String(), registeredAt: Type.Integer(), source: Type.String() }),
});

/** gateway: a client asked for an order (correlation id: the request id). */
export const OrderCreationRequested = defineEvent({
  type: 'OrderCreationRequested',
  topic: 'orders.requests',
  key: (d) => d.username,
  schema: Type.Object({
    requestId: Type.String(),
    username: Type.String(),
    items: OrderItems,
    deliveryAddress: Type.String(),
    paymentMethod: Type.String(),
    createdAt: Type.Integer(),
  }),
});

/**
 * order: the order exists, PENDING_VALIDATION until it is paid for (starts the order saga).
 * `payBy` (ms since the epoch, on the order service's clock: `createdAt` + `PAYMENT_TIMEOUT_MS`):
 * billing takes no money at or after it. Optional, because OrderCreated events written before it
 * existed may still be in the log: those have no limit.
 */
export const OrderCreated = defineEvent({
  type: 'OrderCreated',
  topic: 'orders.created',
  key: (d) => d.username,
  schema: Type.Object({
    requestId: Type.String(),
    username: Type.String(),
    orderId: Type.String(),
    items: OrderItems,
    totalCents: Type.Integer({ minimum: 1 }),
    createdAt: Type.Integer(),
    payBy: Type.Optional(Type.Integer()),
  }),
});

/** billing: the order's payment went through (`success`) or not (`failureReason`). */
export const PaymentProcessed = defineEvent({
  type: 'PaymentProcessed',
  topic: 'billing.payments',
  key: (d) => d.username,
  schema: Type.Object({
    requestId: Type.String(),
    orderId: Type.String(),
    username: Type.String(),
    amountCents: Type.Integer({ minimum: 1 }),
    success: Type.Boolean(),
    failureReason: Type.Union([Type.String(), Type.Null()]),
    processedAt: Type.Integer(),
  }),
});

/**
 * order: the order reached a final status (the gateway answers the client from it). A paid or
 * failed order was PENDING_VALIDATION before; a REJECTED one never was (`previousStatus`
 * {@link REQUESTED}), a FAILED one was when its saga could not end it, and not when its request
 * could not be processed. A REJECTED order's `metadata` is a {@link Rejection}, a FAILED one's a
 * {@link Failure}. `totalCents` is 0 only for a FAILED request whose items could not be read.
 */
export const OrderStatusUpdated = defineEvent({
  type: 'OrderStatusUpdated',
  topic: 'orders.status',
  key: (d) => d.username,
  schema: Type.Object({
    requestId: Type.String(),
    orderId: Type.String(),
    username: Type.String(),
    status: Type.Union(ORDER_STATUSES.filter((s) => s !== 'PENDING').map((s) => Type.Literal(s))),
    previousStatus: Type.String(),
    totalCents: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
  }),
});

/** The `previousStatus` of a REJECTED order: it was only requested, never PENDING_VALIDATION. */
export const REQUESTED = 'REQUESTED';

/** Why the order service rejected an order: the OrderStatusUpdated `metadata` of a REJECTED order. */
export interface Rejection {
  readonly reason: typeof REJECTION_REASON;
  /** Each rule broken, as the gateway's 422 lists a body's: JSON pointer and message. */
  readonly errors: readonly ValidationIssue[];
}
/** {@link Rejection.reason}: the request broke the order rules. */
export const REJECTION_REASON = 'INVALID_ORDER';

/** The errors of a REJECTED order's `metadata` (none when it holds no list of them). */
export function rejectionErrors(metadata: Readonly<Record<string, unknown>>): ValidationIssue[] {
  const errors = metadata['errors'];
  if (!Array.isArray(errors)) return [];
  return errors.filter((e): e is ValidationIssue => typeof e?.path === 'string' && typeof e?.message === 'string').map((e) => ({ path: e.path, message: e.message }));
}

/**
 * Why the order service gave a request up: the OrderStatusUpdated `metadata` of a FAILED order.
 * `error` is the dead letter's reason (`schema-violation`, `handler-failed`, a driver's code...),
 * `deadLetterId` the letter an operator finds the request's (or its saga's) event in.
 */
export interface Failure {
  readonly reason: typeof FAILURE_REASON;
  readonly error: string;
  readonly deadLetterId: string;
}
/** {@link Failure.reason}: the request could not be processed. */
export const FAILURE_REASON = 'UNPROCESSABLE';

/** The dead letter's reason of a FAILED order's `metadata` (`unknown` when it holds none). */
export function failureError(metadata: Readonly<Record<string, unknown>>): string {
  const error = metadata['error'];
  return typeof error === 'string' && error.length > 0 ? error : 'unknown';
}

/** Kinds of notification. */
export const NOTIFICATION_TYPES = ['WELCOME', 'ORDER_PAID', 'ORDER_INSUFFICIENT_FUNDS', 'ORDER_PAYMENT_TIMEOUT', 'ORDER_REJECTED', 'ORDER_FAILED'] as const;

/** notification (requester): a notification to send. */
export const NotificationRequested = defineEvent({
  type: 'NotificationRequested',
  topic: 'notifications.requested',
  key: (d) => d.username,
  schema: Type.Object({
    notificationId: Type.String(),
    requestId: Type.Union([Type.String(), Type.Null()]),
    orderId: Type.Union([Type.String(), Type.Null()]),
    username: Type.String(),
    email: Type.String(),
    type: Type.Union(NOTIFICATION_TYPES.map((t) => Type.Literal(t))),
    subject: Type.String(),
    content: Type.String(),
    metadata: Type.Record(Type.String(), Type.String()),
    scheduledAt: Type.Integer(),
  }),
});

/** notification (sender): the notification was delivered to the user's inbox. */
export const NotificationSent = defineEvent({
  type: 'NotificationSent',
  topic: 'notifications.sent',
  key: (d) => d.username,
  schema: Type.Object({ notificationId: Type.String(), username: Type.String(), type: Type.String(), channel: Type.String(), sentAt: Type.Integer() }),
});

/** notification -> user: whose contact is this (request/reply over topics). */
export const ProfileRequested = defineEvent({
  type: 'ProfileRequested',
  topic: 'users.profile',
  key: (d) => d.username,
  schema: Type.Object({ username: Type.String() }),
});

/** user -> notification: the profile asked for. */
export const ProfileReturned = defineEvent({
  type: 'ProfileReturned',
  topic: 'users.profile.response',
  key: (d) => d.username,
  schema: Type.Object({ username: Type.String(), email: Type.String(), registeredAt: Type.Integer() }),
});

/** The profile request and its reply. */
export const GetProfile = defineRequest({ request: ProfileRequested, reply: ProfileReturned });

/** gateway: a user's deposit, to apply (correlation id: the deposit id). */
export const DepositRequested = defineEvent({
  type: 'DepositRequested',
  topic: 'billing.deposits',
  key: (d) => d.username,
  schema: Type.Object({ depositId: Type.String(), username: Type.String(), amountCents: Type.Integer({ minimum: 1 }), requestedAt: Type.Integer() }),
});

/** billing: the deposit is on the account (the gateway answers the client from it). */
export const DepositApplied = defineEvent({
  type: 'DepositApplied',
  topic: 'billing.deposits.applied',
  key: (d) => d.username,
  schema: Type.Object({ depositId: Type.String(), username: Type.String(), amountCents: Type.Integer({ minimum: 1 }), balanceCents: Type.Integer() }),
});

/**
 * billing: a deposit it could not apply (its DepositRequested is a dead letter of billing's group,
 * see services/depositFailures.ts): nothing was credited, and nothing will be (the gateway answers
 * the client from it). `reason` is the letter's, `deadLetterId` the letter an operator finds it in.
 * On the topic of DepositApplied: one deposit's outcome, in order with the user's others.
 */
export const DepositFailed = defineEvent({
  type: 'DepositFailed',
  topic: 'billing.deposits.applied',
  key: (d) => d.username,
  schema: Type.Object({ depositId: Type.String(), username: Type.String(), amountCents: Type.Integer({ minimum: 0 }), reason: Type.String(), deadLetterId: Type.String(), failedAt: Type.Integer() }),
});

/**
 * order saga, or the order service giving an order up (services/paymentFailures.ts): give back a
 * payment made for an order that ended without it. Billing gives back what that order's SUCCEEDED
 * payment took, to whom it took it from, once; nothing when it took nothing, and when it has not
 * met the order yet it never charges it (`amountCents` and `username` are the order service's
 * view, not what is refunded).
 */
export const RefundRequested = defineEvent({
  type: 'RefundRequested',
  topic: 'billing.refunds',
  key: (d) => d.username,
  schema: Type.Object({ orderId: Type.String(), requestId: Type.String(), username: Type.String(), amountCents: Type.Integer({ minimum: 1 }) }),
});

/** Every event type of the example, registered in each process. */
export const EVENTS = [
  UserRegistered,
  OrderCreationRequested,
  OrderCreated,
  PaymentProcessed,
  OrderStatusUpdated,
  NotificationRequested,
  NotificationSent,
  ProfileRequested,
  ProfileReturned,
  DepositRequested,
  DepositApplied,
  DepositFailed,
  RefundRequested,
];

/** The order saga's name: its transitions go to `order-saga`, its deadlines to `order-saga-deadlines`. */
export const SAGA_NAME = 'order';

/** Topics with their partition counts, provisioned at start. */
export const TOPICS = [...new Set(EVENTS.map((e) => e.topic)), `${SAGA_NAME}-saga`, `${SAGA_NAME}-saga-deadlines`].map((name) => ({ name, partitions: 4 }));

/** The consumer group of each service. */
export const GROUPS = {
  gateway: 'gateway',
  order: 'order-service',
  orderSaga: 'order-saga',
  billing: 'billing-service',
  user: 'user-service',
  notification: 'notification-service',
  sender: 'notification-sender',
} as const;
