import type { SqlTx, TransactionRunner } from '@herald/core';
import { applySchema, type EngineKind } from '@herald/engine';

/**
 * The example's tables, in the SQL common to SQLite and PostgreSQL. The partial unique index is
 * what makes "two people on one seat" impossible: at most one order that is not CANCELLED or
 * FAILED may hold a (flight, seat), enforced by the database even for concurrent requests. Ending
 * an order either way releases its seat. Payments and tickets are unique per order as a last line
 * of defence behind the inboxes; a payment is also the record that decides, once, whether the
 * order's money is taken (see services/payment.ts). `order_failures` says why an order was
 * CANCELLED or FAILED, `ticket_voids` which orders' tickets are void (services/ticket.ts).
 */
export const SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS orders (
     order_id TEXT PRIMARY KEY,
     customer_id TEXT NOT NULL,
     flight_id TEXT NOT NULL,
     seat TEXT NOT NULL,
     price_cents BIGINT NOT NULL,
     status TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   )`,
  `CREATE UNIQUE INDEX IF NOT EXISTS orders_held_seat ON orders (flight_id, seat) WHERE status NOT IN ('CANCELLED', 'FAILED')`,
  // the index of releases before FAILED existed: it would keep a FAILED order's seat held
  'DROP INDEX IF EXISTS orders_live_seat',
  `CREATE TABLE IF NOT EXISTS payments (
     payment_id TEXT PRIMARY KEY,
     order_id TEXT NOT NULL UNIQUE,
     amount_cents BIGINT NOT NULL,
     status TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS tickets (
     ticket_id TEXT PRIMARY KEY,
     order_id TEXT NOT NULL UNIQUE,
     payment_id TEXT NOT NULL,
     flight_id TEXT NOT NULL,
     seat TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS order_failures (
     order_id TEXT PRIMARY KEY,
     reason TEXT NOT NULL,
     dead_letter_id TEXT,
     failed_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS ticket_voids (
     order_id TEXT PRIMARY KEY,
     reason TEXT NOT NULL,
     voided_at BIGINT NOT NULL
   )`,
];

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The engine's kind: on PostgreSQL, schema creation is serialised with an advisory lock. */
  readonly engine: EngineKind;
  /** Runs of the whole creation before a retriable failure is given up. Default 10. */
  readonly attempts?: number;
}

/** Key of the PostgreSQL advisory lock held while the example creates its tables. */
export const SCHEMA_LOCK = 'herald-examples:ticket-orders:schema';

/**
 * Creates the tables if missing; safe to run from every process at start, on either engine
 * (`applySchema` serialises concurrent creations on PostgreSQL and retries a busy database).
 */
export async function migrate(stores: TransactionRunner<SqlTx>, options: MigrateOptions): Promise<void> {
  await applySchema(stores, SCHEMA, { engine: options.engine, lockName: SCHEMA_LOCK, ...(options.attempts === undefined ? {} : { attempts: options.attempts }) });
}

/**
 * Order statuses: CREATED until the saga ends. TICKET_ISSUED: completed. CANCELLED: the payment was
 * declined. FAILED: the order could not be completed (a step missed its deadline, or order-service
 * could not follow it); what was paid is refunded, any ticket void. All three are final.
 */
export type OrderStatus = 'CREATED' | 'TICKET_ISSUED' | 'CANCELLED' | 'FAILED';

/** A payment's status: taken, refused, taken then given back, or never to be taken (the order failed first). */
export type PaymentStatus = 'AUTHORIZED' | 'DECLINED' | 'REFUNDED' | 'VOIDED';

/** A ticket's status: issued, or void (the order failed; one issued before or after is not valid). */
export type TicketStatus = 'ISSUED' | 'VOIDED';

/** An order as the API shows it. */
export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  /** Why it was CANCELLED or FAILED (`<step or service>: <why>`); null otherwise. */
  readonly reason: string | null;
  readonly customerId: string;
  readonly flightId: string;
  readonly seat: string;
  readonly priceCents: number;
  /** Null until a payment exists (a VOIDED one is none). */
  readonly paymentId: string | null;
  readonly paymentStatus: PaymentStatus | null;
  readonly ticketId: string | null;
  /** VOIDED also when no ticket was issued: none will be. */
  readonly ticketStatus: TicketStatus | null;
}

interface OrderRow {
  order_id: string;
  status: OrderStatus;
  reason: string | null;
  customer_id: string;
  flight_id: string;
  seat: string;
  price_cents: number;
  payment_id: string | null;
  payment_status: PaymentStatus | null;
  ticket_id: string | null;
  voided: number;
}

/** Reads one order with its payment and ticket, or undefined. */
export async function findOrder(tx: SqlTx, orderId: string): Promise<OrderView | undefined> {
  const rows = await tx.query<OrderRow>(
    `SELECT o.order_id, o.status, f.reason, o.customer_id, o.flight_id, o.seat, o.price_cents, p.payment_id, p.status AS payment_status,
            t.ticket_id, CASE WHEN v.order_id IS NULL THEN 0 ELSE 1 END AS voided
       FROM orders o
       LEFT JOIN order_failures f ON f.order_id = o.order_id
       LEFT JOIN payments p ON p.order_id = o.order_id
       LEFT JOIN tickets t ON t.order_id = o.order_id
       LEFT JOIN ticket_voids v ON v.order_id = o.order_id
      WHERE o.order_id = $1`,
    [orderId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    orderId: row.order_id,
    status: row.status,
    reason: row.reason,
    customerId: row.customer_id,
    flightId: row.flight_id,
    seat: row.seat,
    priceCents: row.price_cents,
    paymentId: row.payment_status === 'VOIDED' ? null : row.payment_id,
    paymentStatus: row.payment_status,
    ticketId: row.ticket_id,
    ticketStatus: Number(row.voided) === 1 ? 'VOIDED' : row.ticket_id === null ? null : 'ISSUED',
  };
}

/** How an order ends: its final status, why (not for TICKET_ISSUED), and the dead letter that ended it, if one did. */
export interface OrderEnd {
  readonly orderId: string;
  readonly status: Exclude<OrderStatus, 'CREATED'>;
  readonly reason?: string;
  readonly deadLetterId?: string;
  readonly now: number;
}

/**
 * Moves a CREATED order to its final status, with the reason of a CANCELLED or FAILED one, in the
 * caller's transaction. Returns false, changing nothing, when the order is not CREATED (it ended
 * already: a final status is never overwritten) or does not exist.
 */
export async function endOrder(tx: SqlTx, end: OrderEnd): Promise<boolean> {
  const moved = await tx.execute("UPDATE orders SET status = $1, updated_at = $2 WHERE order_id = $3 AND status = 'CREATED'", [end.status, end.now, end.orderId]);
  if (moved === 0) return false;
  if (end.reason !== undefined) {
    await tx.execute('INSERT INTO order_failures (order_id, reason, dead_letter_id, failed_at) VALUES ($1, $2, $3, $4)', [end.orderId, end.reason, end.deadLetterId ?? null, end.now]);
  }
  return true;
}
