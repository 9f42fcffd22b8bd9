import { decodeEnvelope, toError, unstorableTextReason, uuidv7 } from '@herald/core';
import type { App, Component, DeadLetter, Envelope, SqlTx } from '@herald/core';
import { FAILURE_REASON, GROUPS, OrderCreationRequested, OrderStatusUpdated, REQUESTED, type Failure } from '../events.js';

/** First and longest pause before a pass that failed (the store unreachable) runs again. */
const RETRY_MS = { first: 1_000, max: 30_000 } as const;

/**
 * Ends FAILED every order request the order service could not process. A request the gateway
 * accepted is PENDING there until its order's OrderStatusUpdated comes; when its
 * OrderCreationRequested is a dead letter of the order service's group instead — refused as poison
 * (a schema or version this release does not read, text no store keeps) or failed for good by the
 * handler — no order and no status would ever follow, and its client would poll PENDING for ever.
 *
 * For each such letter (`dead`, or `discarded` by an operator) the request becomes a FAILED order
 * (`order_failures` names its letter) and its OrderStatusUpdated is published, in one
 * transaction: the gateway answers the client (the letter's reason in `reason`), the notification
 * service tells the user nothing was charged, and billing never sees the order. One order per
 * request decides the race with the handler: whichever commits first wins, the other changes nothing.
 *
 * FAILED is final: the letter stays for the operator, but a redrive of it finds the request's order
 * and creates nothing (services/order.ts), since the client, told its order failed, may have
 * ordered again: charging this request then would charge twice. A letter that names no request
 * (no request id in its data nor a correlation id, or ids no store keeps) fails nothing: no client
 * of this gateway waits for it, and it is logged.
 *
 * Runs a pass when it starts (letters left by an earlier run, or by another process) and after each
 * letter the order service's group records in this process (the `dead-lettered` fact), one pass at
 * a time; a pass that fails runs again after a pause, until it succeeds or the component closes.
 */
export function orderFailures(app: App<SqlTx>): Component {
  /** Letters this process has settled: each is looked at once per run, not once per pass. */
  const settled = new Set<string>();
  const stop = new AbortController();
  let wanted = false;
  let running: Promise<void> | undefined;
  let unsubscribe: (() => void) | undefined;

  async function pass(): Promise<void> {
    const store = app.stores.deadLetters;
    const letters = [...(await store.list({ group: GROUPS.order, status: 'dead' })), ...(await store.list({ group: GROUPS.order, status: 'discarded' }))];
    const failures: Error[] = [];
    for (const letter of letters) {
      if (settled.has(letter.id) || letter.eventType !== OrderCreationRequested.type) continue;
      try {
        await failRequest(app, letter);
        settled.add(letter.id);
      } catch (error) {
        failures.push(toError(error));
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} request(s) of dead letters could not be ended FAILED`);
  }

  async function drain(): Promise<void> {
    let pause: number = RETRY_MS.first;
    while (wanted && !stop.signal.aborted) {
      wanted = false;
      try {
        await pass();
        pause = RETRY_MS.first;
      } catch (error) {
        wanted = true;
        app.logger.warn('order failures: a pass failed; it runs again', { error, pauseMs: pause });
        await app.clock.sleep(pause, stop.signal).catch(() => undefined);
        pause = Math.min(pause * 2, RETRY_MS.max);
      }
    }
  }

  // one drain at a time; a request that comes while one ends (after its last look at `wanted`) starts the next
  const request = (): void => {
    wanted = true;
    running ??= drain().finally(() => {
      running = undefined;
      if (wanted && !stop.signal.aborted) request();
    });
  };

  return {
    name: 'order-failures',
    async start(signal) {
      signal.addEventListener('abort', () => stop.abort(), { once: true });
      unsubscribe = app.instrumentation.on((fact) => {
        if (fact.kind === 'dead-lettered' && fact.group === GROUPS.order && fact.status === 'dead') request();
      });
      request();
    },
    async close() {
      unsubscribe?.();
      stop.abort();
      await running;
    },
  };
}

/** Ends the letter's request FAILED, unless it has an order already. */
async function failRequest(app: App<SqlTx>, letter: DeadLetter): Promise<void> {
  const request = requestOf(letter);
  if (typeof request === 'string') {
    app.logger.warn('order failures: a dead letter names no request; nothing to end', { letter: letter.id, why: request });
    return;
  }
  const { requestId, username, totalCents, event } = request;
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
      { correlationId: requestId, causationId: event.id },
    );
    return orderId;
  });
  if (failed) app.logger.warn('order request ended FAILED: its event is a dead letter', { requestId, orderId: failed, letter: letter.id, reason: letter.reason });
}

/** What a letter's envelope says of its request, or why it says nothing usable. */
function requestOf(letter: DeadLetter): { requestId: string; username: string; totalCents: number; event: Envelope } | string {
  let event: Envelope;
  try {
    event = decodeEnvelope(letter.envelope, letter.headers);
  } catch (error) {
    return `its envelope cannot be read: ${toError(error).message}`;
  }
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<string, unknown>;
  const requestId = usable(data['requestId']) ?? usable(event.correlationId);
  const username = usable(data['username']) ?? usable(letter.key);
  if (requestId === undefined || username === undefined) return 'no request id or owner a store can keep';
  return { requestId, username, totalCents: totalOf(data['items']), event };
}

const usable = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 && unstorableTextReason(value) === undefined ? value : undefined);

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
