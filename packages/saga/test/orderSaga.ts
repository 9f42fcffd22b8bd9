import { Type } from '@sinclair/typebox';
import { defineEvent } from '@herald/core';
import { defineSaga, emit, on } from '../src/index.js';

const byOrder = (d: { orderId: string }) => d.orderId;
const Order = { orderId: Type.String() };

export const OrderPlaced = defineEvent({ type: 'OrderPlaced', topic: 'orders', key: byOrder, schema: Type.Object({ ...Order, seats: Type.Integer(), totalCents: Type.Integer() }) });
export const ReserveSeats = defineEvent({ type: 'ReserveSeats', topic: 'inventory.commands', key: byOrder, schema: Type.Object({ ...Order, seats: Type.Integer() }) });
export const SeatsReserved = defineEvent({ type: 'SeatsReserved', topic: 'inventory', key: byOrder, schema: Type.Object({ ...Order, reservationId: Type.String() }) });
export const SeatsUnavailable = defineEvent({ type: 'SeatsUnavailable', topic: 'inventory', key: byOrder, schema: Type.Object({ ...Order }) });
export const ReleaseSeats = defineEvent({ type: 'ReleaseSeats', topic: 'inventory.commands', key: byOrder, schema: Type.Object({ ...Order, reservationId: Type.String() }) });
export const ChargeCard = defineEvent({ type: 'ChargeCard', topic: 'billing.commands', key: byOrder, schema: Type.Object({ ...Order, totalCents: Type.Integer() }) });
export const PaymentProcessed = defineEvent({
  type: 'PaymentProcessed',
  topic: 'billing',
  key: byOrder,
  schema: Type.Object({ ...Order, success: Type.Boolean(), amountCents: Type.Integer(), reason: Type.Optional(Type.String()) }),
});
export const RefundPayment = defineEvent({ type: 'RefundPayment', topic: 'billing.commands', key: byOrder, schema: Type.Object({ ...Order, amountCents: Type.Integer() }) });
export const OrderStatusUpdated = defineEvent({ type: 'OrderStatusUpdated', topic: 'orders.status', key: byOrder, schema: Type.Object({ ...Order, status: Type.String() }) });

export interface OrderData {
  readonly orderId: string;
  readonly seats: number;
  readonly totalCents: number;
  readonly reservationId: string | null;
  readonly paidCents: number;
}

export const PAYMENT_DEADLINE_MS = 30_000;
/** How long an instance waits for its order: short, so a runtime test can pass it on a manual clock. */
export const AWAIT_START_MS = 60_000;

/** Reserve seats, then take the payment within 30 s; undo the reservation (and a late payment) when it fails. */
export const OrderSaga = defineSaga({
  name: 'order',
  startedBy: OrderPlaced,
  awaitStartMs: AWAIT_START_MS,
  initial: (event): OrderData => ({ orderId: event.data.orderId, seats: event.data.seats, totalCents: event.data.totalCents, reservationId: null, paidCents: 0 }),
})
  .step('reserve', {
    onStart: (d) => [emit(ReserveSeats, { orderId: d.orderId, seats: d.seats })],
    completedBy: on(SeatsReserved, { update: (d: OrderData, e) => ({ ...d, reservationId: e.data.reservationId }) }),
    failedBy: on(SeatsUnavailable, { reason: () => 'SOLD_OUT' }),
    compensate: (d) => [emit(ReleaseSeats, { orderId: d.orderId, reservationId: d.reservationId ?? 'none' })],
  })
  .step('payment', {
    deadlineMs: PAYMENT_DEADLINE_MS,
    onStart: (d) => [emit(ChargeCard, { orderId: d.orderId, totalCents: d.totalCents })],
    completedBy: on(PaymentProcessed, { when: (e) => e.data.success, update: (d: OrderData, e) => ({ ...d, paidCents: e.data.amountCents }) }),
    failedBy: on(PaymentProcessed, { when: (e) => !e.data.success, reason: (e) => e.data.reason ?? 'DECLINED' }),
    compensate: (d) => [emit(RefundPayment, { orderId: d.orderId, amountCents: d.paidCents })],
  })
  .onCompleted((d) => [emit(OrderStatusUpdated, { orderId: d.orderId, status: 'PAID' })])
  .onFailed((d, failure) => [emit(OrderStatusUpdated, { orderId: d.orderId, status: failure.timedOut ? 'PAYMENT_TIMEOUT' : failure.reason })]);
