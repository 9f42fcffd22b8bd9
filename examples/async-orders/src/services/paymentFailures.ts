import { hasSagas, policyStep } from '@herald/core';
import type { App, DeadLetter, InstrumentationEvent, PolicyStep, Publish, SqlTx } from '@herald/core';
import { sagaEvents } from '@herald/saga';
import { readLetter, usableText, type DeadLetterRule, type Settlement } from '../deadLetterOutcomes.js';
import { FAILURE_REASON, GROUPS, OrderCreated, OrderStatusUpdated, PaymentProcessed, RefundRequested, SAGA_NAME, type Failure } from '../events.js';

/**
 * The final outcomes of orders whose saga events the saga's group (`order-saga`) dead-letters:
 * rules for deadLetterOutcomes.ts. The saga is what ends an order once billing answered or the
 * payment's deadline passed; a letter in its group can leave an order PENDING_VALIDATION for ever
 * (its client polling PENDING) or money taken for an order that ended without it:
 *
 * - **OrderCreated** (the saga never started, so neither did its deadline, and billing may charge
 *   all the same): unless a saga runs for the order (another delivery started it), the order ends
 *   FAILED (`order_failures` names the letter) with its OrderStatusUpdated, and a RefundRequested
 *   gives back what billing took, or, reaching billing first, keeps it from ever charging the order
 *   (`PAYMENT_CANCELLED`). FAILED is final: a redrive of the letter starts no saga
 *   ({@link failedOrdersStartNoSaga}).
 * - **SagaDeadlineReached** (the deadline passed but could not end the saga, so only billing's
 *   answer, if it ever comes, would): the same, while the order still waits. Billing answers no
 *   order it never charges, so that saga runs on until the letter is redriven (it then times out,
 *   changing nothing): the stuck-saga alert points at the letter.
 * - **PaymentProcessed** (billing's answer never reached the saga; the deadline ends the order
 *   PAYMENT_TIMEOUT): while the order waits, nothing — a redrive can still complete it PAID; once it
 *   ended other than PAID, a RefundRequested gives back what billing took, at once, not only when
 *   the letter is redriven. A redrive after that reaches a saga that failed: it asks for the refund
 *   again, and billing, having given the money back, gives nothing more. A letter saying the payment
 *   failed needs nothing: billing took no money.
 *
 * Each moves the order only from PENDING_VALIDATION (the saga moves it from there too: whichever
 * commits first wins) and asks for one refund per order (`order_refunds`), in the transaction that
 * decides it; billing gives back what the order's payment took at most once.
 */
export function paymentFailures(app: App<SqlTx>): DeadLetterRule[] {
  const group = GROUPS.orderSaga;
  return [
    { group, eventType: OrderCreated.type, settle: (letter) => failOrder(app, letter, { unlessSagaRuns: true }) },
    { group, eventType: sagaEvents(`${SAGA_NAME}-saga`).SagaDeadlineReached.type, settle: (letter) => failOrder(app, letter, { unlessSagaRuns: false }) },
    { group, eventType: PaymentProcessed.type, settle: (letter) => refundUnpaid(app, letter) },
  ];
}

/** The facts after which a PaymentProcessed letter's order may have ended: its saga ended (in this process). */
export const sagaEnded = (fact: InstrumentationEvent): boolean => fact.kind === 'saga' && fact.saga === SAGA_NAME && (fact.transition === 'completed' || fact.transition === 'failed');

/**
 * The order saga's pipeline step (innermost, in the handler's transaction): an OrderCreated of an
 * order already FAILED starts no saga. Such an order ended because its saga could not start it,
 * and its money was given back; a redrive (or a late redelivery) of that OrderCreated would only
 * track a payment that no longer counts, and count a saga for an order that failed.
 */
export function failedOrdersStartNoSaga(): PolicyStep<SqlTx> {
  return policyStep<SqlTx>('failedOrdersStartNoSaga', (next) =>
    async function failedOrdersStartNoSaga(event, ctx) {
      if (event.type === OrderCreated.type) {
        const { orderId } = event.data as { orderId: string };
        const [order] = await ctx.tx.query<{ status: string }>('SELECT status FROM orders WHERE order_id = $1', [orderId]);
        if (order?.status === 'FAILED') {
          ctx.logger.warn('order already ended FAILED (its OrderCreated was dead-lettered); this delivery starts no saga', { orderId });
          return;
        }
      }
      await next(event, ctx);
    },
  );
}

interface OrderRow {
  order_id: string;
  username: string;
  total_cents: number;
  status: string;
}

/** The request a letter of the saga's group is about (the saga's instance), from its data or its correlation id, or why it names none. */
function requestOf(letter: DeadLetter): { requestId: string; eventId: string; data: Readonly<Record<string, unknown>> } | string {
  const read = readLetter(letter);
  if (typeof read === 'string') return read;
  const { event, data } = read;
  const requestId = usableText(data['requestId']) ?? usableText(data['instanceId']) ?? usableText(event.correlationId);
  return requestId === undefined ? 'no request id a store can keep' : { requestId, eventId: event.id, data };
}

async function orderOf(tx: SqlTx, requestId: string): Promise<OrderRow | undefined> {
  const [order] = await tx.query<OrderRow>('SELECT order_id, username, total_cents, status FROM orders WHERE request_id = $1', [requestId]);
  return order;
}

/** Ends the letter's order FAILED and asks for its refund, while it waits for a saga that will not end it. */
async function failOrder(app: App<SqlTx>, letter: DeadLetter, options: { unlessSagaRuns: boolean }): Promise<Settlement> {
  const request = requestOf(letter);
  if (typeof request === 'string') {
    app.logger.warn('order failures: a dead letter names no order; nothing to end', { letter: letter.id, why: request });
    return 'settled';
  }
  const { requestId, eventId } = request;
  const failed = await app.transaction(async (tx, publish) => {
    const order = await orderOf(tx, requestId);
    if (order?.status !== 'PENDING_VALIDATION') return undefined;
    if (options.unlessSagaRuns && hasSagas<object, SqlTx>(app.stores)) {
      // another delivery of the event started it after all: its deadline ends the order
      const saga = await app.stores.sagas.load(tx, SAGA_NAME, requestId);
      if (saga && saga.status !== 'awaiting-start') return undefined;
    }
    const now = app.clock.now();
    const { order_id: orderId, username } = order;
    const totalCents = Number(order.total_cents);
    const moved = await tx.execute("UPDATE orders SET status = 'FAILED', updated_at = $1 WHERE order_id = $2 AND status = 'PENDING_VALIDATION'", [now, orderId]);
    if (moved === 0) return undefined;
    await tx.execute('INSERT INTO order_failures (order_id, dead_letter_id, reason, failed_at) VALUES ($1, $2, $3, $4)', [orderId, letter.id, letter.reason, now]);
    const failure: Failure = { reason: FAILURE_REASON, error: letter.reason, deadLetterId: letter.id };
    const caused = { correlationId: requestId, causationId: eventId };
    await publish(OrderStatusUpdated, { requestId, orderId, username, status: 'FAILED', previousStatus: 'PENDING_VALIDATION', totalCents, updatedAt: now, metadata: { ...failure } }, caused);
    await askRefund(tx, publish, { orderId, requestId, username, totalCents, letter, now, caused });
    return orderId;
  });
  if (failed) app.logger.warn('order ended FAILED: its saga event is a dead letter; its payment is refunded', { requestId, orderId: failed, letter: letter.id, reason: letter.reason });
  return 'settled';
}

/** Asks billing to give back what the letter's order took, once it ended without that payment. */
async function refundUnpaid(app: App<SqlTx>, letter: DeadLetter): Promise<Settlement> {
  const request = requestOf(letter);
  if (typeof request === 'string') {
    app.logger.warn('order failures: a dead letter names no order; nothing to refund', { letter: letter.id, why: request });
    return 'settled';
  }
  const { requestId, eventId, data } = request;
  // billing says it took nothing (it writes the payment and its answer together)
  if (data['success'] === false) return 'settled';
  return app.transaction(async (tx, publish) => {
    const order = await orderOf(tx, requestId);
    // still waiting: a redrive can complete it, and its deadline ends it otherwise
    if (order?.status === 'PENDING_VALIDATION') return 'waiting';
    // not this service's order, or another delivery of the payment completed it
    if (!order || order.status === 'PAID') return 'settled';
    const { order_id: orderId, username } = order;
    const caused = { correlationId: requestId, causationId: eventId };
    if (await askRefund(tx, publish, { orderId, requestId, username, totalCents: Number(order.total_cents), letter, now: app.clock.now(), caused })) {
      app.logger.warn('a payment the saga never saw is refunded: its order ended without it', { orderId, requestId, status: order.status, letter: letter.id });
    }
    return 'settled';
  });
}

/** Records and publishes the order's refund, unless one was asked already; whether it asked. */
async function askRefund(
  tx: SqlTx,
  publish: Publish,
  refund: { orderId: string; requestId: string; username: string; totalCents: number; letter: DeadLetter; now: number; caused: { correlationId: string; causationId: string } },
): Promise<boolean> {
  const { orderId, requestId, username, totalCents, letter, now, caused } = refund;
  const asked = await tx.execute('INSERT INTO order_refunds (order_id, dead_letter_id, reason, requested_at) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING', [
    orderId,
    letter.id,
    letter.reason,
    now,
  ]);
  if (asked === 0) return false;
  await publish(RefundRequested, { orderId, requestId, username, amountCents: totalCents }, caused);
  return true;
}
