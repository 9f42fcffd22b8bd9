import type { SqlTx, TransactionRunner } from '@herald/core';
import { applySchema, type EngineKind } from '@herald/engine';

/**
 * The example's tables, in the SQL common to SQLite and PostgreSQL. The partial unique index is
 * what makes "two people on one seat" impossible: at most one order that is not CANCELLED may
 * hold a (flight, seat), enforced by the database even for concurrent requests. Cancelling an
 * order releases its seat. Payments and tickets are unique per order as a last line of defence
 * behind the inboxes.
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
  `CREATE UNIQUE INDEX IF NOT EXISTS orders_live_seat ON orders (flight_id, seat) WHERE status <> 'CANCELLED'`,
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

/** Order statuses: CREATED until the saga ends in TICKET_ISSUED or CANCELLED. */
export type OrderStatus = 'CREATED' | 'TICKET_ISSUED' | 'CANCELLED';

/** An order as the API shows it. */
export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly customerId: string;
  readonly flightId: string;
  readonly seat: string;
  readonly priceCents: number;
  readonly paymentId: string | null;
  readonly ticketId: string | null;
}

interface OrderRow {
  order_id: string;
  status: OrderStatus;
  customer_id: string;
  flight_id: string;
  seat: string;
  price_cents: number;
  payment_id: string | null;
  ticket_id: string | null;
}

/** Reads one order with its payment and ticket ids, or undefined. */
export async function findOrder(tx: SqlTx, orderId: string): Promise<OrderView | undefined> {
  const rows = await tx.query<OrderRow>(
    `SELECT o.order_id, o.status, o.customer_id, o.flight_id, o.seat, o.price_cents, p.payment_id, t.ticket_id
       FROM orders o
       LEFT JOIN payments p ON p.order_id = o.order_id
       LEFT JOIN tickets t ON t.order_id = o.order_id
      WHERE o.order_id = $1`,
    [orderId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    orderId: row.order_id,
    status: row.status,
    customerId: row.customer_id,
    flightId: row.flight_id,
    seat: row.seat,
    priceCents: row.price_cents,
    paymentId: row.payment_id,
    ticketId: row.ticket_id,
  };
}
