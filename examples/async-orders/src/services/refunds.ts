import type { App, DeadLetter, Logger, SqlTx } from '@herald/core';
import { readLetter, usableText, type DeadLetterRule, type Settlement } from '../deadLetterOutcomes.js';
import { GROUPS, PAYMENT_FAILURES, RefundRequested } from '../events.js';

/** A refund as billing reads it: the order, and the order service's view of its request, owner and amount (a cancellation's record only). */
export interface Refund {
  readonly orderId: string;
  readonly requestId: string;
  readonly username: string;
  readonly amountCents: number;
}

/** What applying a refund needs of billing: the time, a logger, and how it credits an account (opening it if need be). */
export interface RefundContext {
  readonly now: number;
  readonly logger: Logger;
  readonly credit: (tx: SqlTx, username: string, amountCents: number) => Promise<unknown>;
}

/**
 * Applies a RefundRequested in `tx`, idempotently: an order billing has not met yet gets its
 * payment's claim, cancelled (`PAYMENT_CANCELLED`), so billing never charges it; otherwise billing
 * gives back what that order's SUCCEEDED payment took, to whom it took it from, once
 * (`billing_refunds`, one per order), and nothing when it took nothing. What it gives back is
 * billing's record, never the request's amount. Whether it moved money: the amount credited, or 0.
 */
export async function applyRefund(tx: SqlTx, refund: Refund, context: RefundContext): Promise<number> {
  const { orderId, requestId, username, amountCents } = refund;
  const cancelled = await tx.execute(
    `INSERT INTO billing_payments (order_id, request_id, username, amount_cents, status, failure_reason, processed_at)
     VALUES ($1, $2, $3, $4, 'FAILED', $5, $6) ON CONFLICT (order_id) DO NOTHING`,
    [orderId, requestId, username, amountCents, PAYMENT_FAILURES.cancelled, context.now],
  );
  if (cancelled === 1) {
    context.logger.warn('refund requested for an order billing has not met; it will never charge it', { orderId, username });
    return 0;
  }
  const [taken] = await tx.query<{ username: string; amount_cents: number }>("SELECT username, amount_cents FROM billing_payments WHERE order_id = $1 AND status = 'SUCCEEDED'", [orderId]);
  if (!taken) {
    context.logger.warn('refund requested for an order billing took no money for; nothing refunded', { orderId, username, amountCents });
    return 0;
  }
  const takenCents = Number(taken.amount_cents);
  const refunded = await tx.execute('INSERT INTO billing_refunds (order_id, username, amount_cents, refunded_at) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING', [
    orderId,
    taken.username,
    takenCents,
    context.now,
  ]);
  if (refunded === 0) return 0;
  await context.credit(tx, taken.username, takenCents);
  return takenCents;
}

/**
 * Gives back the money of every refund billing's handler could not apply: the rule (for
 * deadLetterOutcomes.ts) of billing's RefundRequested letters. Such a letter — refused as poison
 * (a newer order service's event) or failed for good by the handler — is money owed to a customer
 * for an order that ended without its payment (FAILED, PAYMENT_TIMEOUT): the order service asked
 * once and will not ask again, and the customer was told nothing was charged. So the refund is
 * applied from the letter, leniently read ({@link applyRefund}: only the order id counts, the
 * amount is billing's record), in its own transaction. While that fails too (the cause not fixed
 * yet), the pass runs again with a growing pause, and each failure is logged at error with the
 * order and the amount owed, for the operator. A redrive of the letter afterwards gives nothing
 * more: billing refunds an order once. A letter naming no order is left alone (logged).
 */
export function refundFailures(app: App<SqlTx>, options: Pick<RefundContext, 'credit'>): DeadLetterRule {
  return { group: GROUPS.billing, eventType: RefundRequested.type, settle: (letter) => refundFromLetter(app, options, letter) };
}

async function refundFromLetter(app: App<SqlTx>, options: Pick<RefundContext, 'credit'>, letter: DeadLetter): Promise<Settlement> {
  const refund = refundOf(letter);
  if (typeof refund === 'string') {
    app.logger.error('refund failures: a dead letter names no order; nothing refunded, an operator must look', { letter: letter.id, why: refund });
    return 'settled';
  }
  try {
    const credited = await app.transaction((tx) => applyRefund(tx, refund, { now: app.clock.now(), logger: app.logger, credit: options.credit }));
    if (credited > 0) app.logger.warn('a refund billing could not apply is given back: its RefundRequested is a dead letter', { ...refund, creditedCents: credited, letter: letter.id, reason: letter.reason });
  } catch (error) {
    app.logger.error('money owed to a customer could not be refunded yet (its RefundRequested is a dead letter); it is tried again', { ...refund, letter: letter.id, error });
    throw error;
  }
  return 'settled';
}

/** What a letter's envelope says of its refund (billing's records decide the amount), or why it names no order. */
function refundOf(letter: DeadLetter): Refund | string {
  const read = readLetter(letter);
  if (typeof read === 'string') return read;
  const { event, data } = read;
  const orderId = usableText(data['orderId']);
  if (orderId === undefined) return 'no order id a store can keep';
  const amount = data['amountCents'];
  return {
    orderId,
    requestId: usableText(data['requestId']) ?? usableText(event.correlationId) ?? '',
    username: usableText(data['username']) ?? usableText(letter.key) ?? '',
    amountCents: Number.isSafeInteger(amount) && (amount as number) >= 1 ? (amount as number) : 0,
  };
}
