import { uuidv7 } from '@herald/core';
import type { App, DeadLetter, SqlTx } from '@herald/core';
import { readLetter, usableText, type DeadLetterRule, type Settlement } from '../deadLetterOutcomes.js';
import { FAILURE_REASON, GROUPS, OrderCreationRequested, OrderStatusUpdated, REQUESTED, type Failure } from '../events.js';

/**
 * Ends FAILED every order request the order service could not process: the rule (for
 * deadLetterOutcomes.ts) of its group's OrderCreationRequested letters. A request the gateway
 * accepted is PENDING there until its order's OrderStatusUpdated comes; when its
 * OrderCreationRequested is a dead letter of the order service's group instead — refused as poison
 * (a schema or version this release does not read, text no store keeps) or failed for good by the
 * handler — no order and no status would ever follow, and its client would poll PENDING for ever.
 *
 * For each such letter the request becomes a FAILED order (`order_failures` names its letter) and
 * its OrderStatusUpdated is published, in one transaction: the gateway answers the client (the
 * letter's reason in `reason`), the notification service tells the user nothing was charged, and
 * billing never sees the order. One order per request decides the race with the handler: whichever
 * commits first wins, the other changes nothing.
 *
 * FAILED is final: the letter stays for the operator, but a redrive of it finds the request's order
 * and creates nothing (services/order.ts), since the client, told its order failed, may have
 * ordered again: charging this request then would charge twice. A letter that names no request
 * (no request id in its data nor a correlation id, or ids no store keeps) fails nothing: no client
 * of this gateway waits for it, and it is logged.
 */
export function orderRequestFailures(app: App<SqlTx>): DeadLetterRule {
  return { group: GROUPS.order, eventType: OrderCreationRequested.type, settle: (letter) => failRequest(app, letter) };
}

/** Ends the letter's request FAILED, unless it has an order already. */
async function failRequest(app: App<SqlTx>, letter: DeadLetter): Promise<Settlement> {
  const request = requestOf(letter);
  if (typeof request === 'string') {
    app.logger.warn('order failures: a dead letter names no request; nothing to end', { letter: letter.id, why: request });
    return 'settled';
  }
  const { requestId, username, totalCents, eventId } = request;
  const failed = await app.transaction(async (tx, publish) => {
    const orderId = uuidv7();
    const now = app.clock.now();
    // the request as it came is in the letter: the order keeps its ids and total only
    const created = await tx.execute(
      `INSERT INTO orders (order_id, request_id, username, items, delivery_address, payment_method, total_cents, status, created_at, updated_at)
       VALUES ($1, $2, $3, '[]', '', '', $4, 'FAILED', $5, $5) ON CONFLICT (request_id) DO NOTHING`,
      [orderId, requestId, username, totalCents, now],
    );
    if (created === 0) return undefined;
    await tx.execute('INSERT INTO order_failures (order_id, dead_letter_id, reason, failed_at) VALUES ($1, $2, $3, $4)', [orderId, letter.id, letter.reason, now]);
    const failure: Failure = { reason: FAILURE_REASON, error: letter.reason, deadLetterId: letter.id };
    await publish(
      OrderStatusUpdated,
      { requestId, orderId, username, status: 'FAILED', previousStatus: REQUESTED, totalCents, updatedAt: now, metadata: { ...failure } },
      { correlationId: requestId, causationId: eventId },
    );
    return orderId;
  });
  if (failed) app.logger.warn('order request ended FAILED: its event is a dead letter', { requestId, orderId: failed, letter: letter.id, reason: letter.reason });
  return 'settled';
}

/** What a letter's envelope says of its request, or why it says nothing usable. */
function requestOf(letter: DeadLetter): { requestId: string; username: string; totalCents: number; eventId: string } | string {
  const read = readLetter(letter);
  if (typeof read === 'string') return read;
  const { event, data } = read;
  const requestId = usableText(data['requestId']) ?? usableText(event.correlationId);
  const username = usableText(data['username']) ?? usableText(letter.key);
  if (requestId === undefined || username === undefined) return 'no request id or owner a store can keep';
  return { requestId, username, totalCents: totalOf(data['items']), eventId: event.id };
}

/**
 * The total of items read leniently (whole quantities and prices of at least 1, no upper limits:
 * what a newer gateway may have taken), as the gateway computed it; 0 when they cannot be read.
 */
function totalOf(items: unknown): number {
  if (!Array.isArray(items) || items.length === 0) return 0;
  let total = 0;
  for (const item of items as unknown[]) {
    const { quantity, priceCents } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    if (!isCount(quantity) || !isCount(priceCents)) return 0;
    total += quantity * priceCents;
  }
  return Number.isSafeInteger(total) ? total : 0;
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 1;
