import { join } from 'node:path';
import { sqliteStores } from '@herald/sqlite';
import { GROUPS } from '../../src/events.js';
import { expect } from 'vitest';
import { pool, problemCode, send } from './client.js';
import type { OrdersDb } from './db.js';
import { LIMIT_CENTS, type Job, type KeyOutcome } from './scenario.js';

/**
 * Checks what the client saw: every key's answers are identical (a duplicate got the first
 * response, status and body), every answer is 201 or a seat-held 409, a 201 was executed at most
 * once (the others are marked replayed), and exactly one request of each seat race won.
 * Returns the order id of every 201, by key.
 */
export function verifyAnswers(jobs: readonly Job[], outcomes: ReadonlyMap<string, KeyOutcome>, options: { originalSeen: boolean }): Map<string, string> {
  const orderIds = new Map<string, string>();
  for (const outcome of outcomes.values()) {
    const [first, ...rest] = outcome.answers;
    expect(first, outcome.request.key).toBeDefined();
    for (const again of rest) {
      expect({ status: again.status, text: again.text }, `duplicate of ${outcome.request.key}`).toEqual({ status: first!.status, text: first!.text });
    }
    if (first!.status === 201) {
      const body = JSON.parse(first!.text) as { orderId: string; status: string };
      expect(body.status).toBe('CREATED');
      expect(first!.location).toBe(`/orders/${body.orderId}`);
      const executed = outcome.answers.filter((a) => !a.replayed).length;
      if (options.originalSeen) expect(executed, outcome.request.key).toBe(1);
      else expect(executed, outcome.request.key).toBeLessThanOrEqual(1);
      orderIds.set(outcome.request.key, body.orderId);
    } else {
      expect({ status: first!.status, code: problemCode(first!) }, outcome.request.key).toEqual({ status: 409, code: 'seat-held' });
    }
  }
  for (const job of jobs) {
    const keys = job.kind === 'single' ? [job.request.key] : job.requests.map((r) => r.key);
    keys.forEach((key) => expect(outcomes.has(key), key).toBe(true));
    if (job.kind === 'seat-race') expect(keys.filter((k) => orderIds.has(k)), `race ${keys.join(' vs ')}`).toHaveLength(1);
    else expect(orderIds.has(job.request.key), job.request.key).toBe(true);
  }
  return orderIds;
}

/** Waits until no order is CREATED any more (every saga ended), within `timeoutMs`. */
export async function waitAllFinal(db: OrdersDb, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await db.count("SELECT COUNT(*) FROM orders WHERE status = 'CREATED'");
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} orders still CREATED after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The figures a run ends with. */
export interface Totals {
  readonly orders: number;
  readonly ticketIssued: number;
  readonly cancelled: number;
  readonly payments: number;
  readonly tickets: number;
}

/**
 * Checks the database once every saga ended: exactly the orders the client was told about exist;
 * each is final as its price dictates; exactly one payment per order; a ticket for each issued
 * order and none for a cancelled one; no seat held by two live orders or ticketed twice.
 */
export async function verifyDatabase(db: OrdersDb, orderIds: ReadonlyMap<string, string>, prices: ReadonlyMap<string, number>): Promise<Totals> {
  const rows = await db.rows<{ order_id: string; status: string; price_cents: number }>('SELECT order_id, status, price_cents FROM orders');
  expect(new Set(rows.map((r) => r.order_id))).toEqual(new Set(orderIds.values()));
  for (const row of rows) {
    expect(row.status, row.order_id).toBe(row.price_cents > LIMIT_CENTS ? 'CANCELLED' : 'TICKET_ISSUED');
  }
  for (const [key, orderId] of orderIds) {
    expect(rows.find((r) => r.order_id === orderId)?.price_cents, key).toBe(prices.get(key));
  }
  expect(await db.count('SELECT COUNT(*) FROM orders o WHERE (SELECT COUNT(*) FROM payments p WHERE p.order_id = o.order_id) <> 1')).toBe(0);
  expect(await db.count('SELECT COUNT(*) FROM payments p WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = p.order_id)')).toBe(0);
  expect(await db.count("SELECT COUNT(*) FROM payments p JOIN orders o ON o.order_id = p.order_id WHERE (p.status = 'DECLINED') <> (o.status = 'CANCELLED')")).toBe(0);
  expect(await db.count("SELECT COUNT(*) FROM orders o WHERE (SELECT COUNT(*) FROM tickets t WHERE t.order_id = o.order_id) <> (CASE WHEN o.status = 'TICKET_ISSUED' THEN 1 ELSE 0 END)")).toBe(0);
  expect(await db.count("SELECT COUNT(*) FROM (SELECT flight_id, seat FROM orders WHERE status <> 'CANCELLED' GROUP BY flight_id, seat HAVING COUNT(*) > 1) held")).toBe(0);
  expect(await db.count('SELECT COUNT(*) FROM (SELECT flight_id, seat FROM tickets GROUP BY flight_id, seat HAVING COUNT(*) > 1) ticketed')).toBe(0);
  // each order's effects happened in the saga's causal order: order, payment, ticket, final status
  const outOfOrder = await db.rows<{ order_id: string }>(
    `SELECT o.order_id FROM orders o
       JOIN payments p ON p.order_id = o.order_id
       LEFT JOIN tickets t ON t.order_id = o.order_id
      WHERE p.created_at < o.created_at OR o.updated_at < p.created_at
         OR (t.ticket_id IS NOT NULL AND (t.created_at < p.created_at OR o.updated_at < t.created_at))`,
  );
  expect(outOfOrder, 'orders whose payment, ticket or final status predates its cause').toEqual([]);
  return {
    orders: rows.length,
    ticketIssued: rows.filter((r) => r.status === 'TICKET_ISSUED').length,
    cancelled: rows.filter((r) => r.status === 'CANCELLED').length,
    payments: await db.count('SELECT COUNT(*) FROM payments'),
    tickets: await db.count('SELECT COUNT(*) FROM tickets'),
  };
}

/** Checks every order through GET /orders/{id}: final status, payment id, ticket id iff issued. */
export async function verifyThroughApi(baseUrl: string, orderIds: ReadonlyMap<string, string>): Promise<void> {
  for (const orderId of orderIds.values()) {
    const answer = await send(`${baseUrl}/orders/${orderId}`);
    expect(answer.status).toBe(200);
    const order = JSON.parse(answer.text) as { orderId: string; status: string; paymentId: string | null; ticketId: string | null };
    expect(order.orderId).toBe(orderId);
    expect(['TICKET_ISSUED', 'CANCELLED']).toContain(order.status);
    expect(order.paymentId).toEqual(expect.any(String));
    expect(order.ticketId === null).toBe(order.status === 'CANCELLED');
  }
}

/** The consumer group whose handler writes each event type of the flow. */
const WRITER_OF: Readonly<Record<string, string>> = { PaymentAuthorized: GROUPS.payment, PaymentDeclined: GROUPS.payment, TicketIssued: GROUPS.ticket };

/**
 * Checks the workflow view of one order: its saga's events in order (outbox order of its key),
 * each caused by the one before, all published and processed, and each written no earlier than
 * its cause was processed (the handler that processed the cause wrote it).
 */
export async function verifyWorkflow(baseUrl: string, orderId: string, expected: readonly string[]): Promise<void> {
  const answer = await send(`${baseUrl}/orders/${orderId}/workflow`);
  expect(answer.status).toBe(200);
  const workflow = JSON.parse(answer.text) as {
    order: { orderId: string };
    events: {
      type: string;
      eventId: string;
      causationId: string | null;
      key: string;
      time: string;
      published: boolean;
      consumers: { group: string; processed: boolean; processedAt: string | null }[];
    }[];
  };
  expect(workflow.order.orderId).toBe(orderId);
  expect(workflow.events.map((e) => e.type)).toEqual(expected);
  workflow.events.forEach((event, i) => {
    expect(event.key).toBe(orderId);
    expect(event.published).toBe(true);
    expect(event.causationId).toBe(i === 0 ? null : workflow.events[i - 1]!.eventId);
    expect(event.consumers.length).toBeGreaterThan(0);
    event.consumers.forEach((c) => expect(c.processed, `${event.type} by ${c.group}`).toBe(true));
    const cause = workflow.events[i - 1];
    if (cause) {
      // the group whose handler wrote the event processed its cause first (the saga in order-service follows the same cause on its own time)
      const writer = cause.consumers.find((c) => c.group === WRITER_OF[event.type]);
      expect(writer, `${orderId}: ${cause.type} processed by ${WRITER_OF[event.type]}`).toBeDefined();
      const causeProcessedAt = Date.parse(writer!.processedAt!);
      expect(Date.parse(cause.time), `${orderId}: ${cause.type} written before it was processed`).toBeLessThanOrEqual(causeProcessedAt);
      expect(causeProcessedAt, `${orderId}: ${event.type} written after ${cause.type} was processed`).toBeLessThanOrEqual(Date.parse(event.time));
    }
  });
}

/** {@link verifyWorkflow} for every order, `concurrency` at a time: the saga each order's price dictates. */
export async function verifyEveryWorkflow(baseUrl: string, orderIds: ReadonlyMap<string, string>, prices: ReadonlyMap<string, number>, concurrency = 8): Promise<void> {
  await pool([...orderIds], concurrency, async ([key, orderId]) => {
    const declined = prices.get(key)! > LIMIT_CENTS;
    await verifyWorkflow(baseUrl, orderId, declined ? ['OrderCreated', 'PaymentDeclined'] : ['OrderCreated', 'PaymentAuthorized', 'TicketIssued']);
  });
}

/** Checks that the embedded store in `dataDir` holds no dead letters (run after the example stopped). */
export async function verifyNoDeadLetters(dataDir: string): Promise<void> {
  const stores = sqliteStores({ path: join(dataDir, 'store.db') });
  try {
    expect(await stores.deadLetters.list()).toEqual([]);
  } finally {
    await stores.close();
  }
}
