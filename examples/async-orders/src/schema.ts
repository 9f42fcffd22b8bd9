import type { SqlTx, TransactionRunner } from '@herald/core';
import { applySchema, type EngineKind } from '@herald/engine';

/**
 * Each service's tables, in the SQL common to SQLite and PostgreSQL. The services share one
 * database (the embedded engine's file, or one PostgreSQL database) but each writes only its own
 * tables; the gateway reads billing's balances, the sender's notifications and (while its own
 * row lags) the order service's final status to answer queries.
 * Unique keys back up the inboxes: one order per request (and at most one rejection, failure or
 * refund asked per order), one payment per order (or its cancellation), one refund per order, one
 * row per deposit (and at most one failure) and per notification.
 */
export const SCHEMA: readonly string[] = [
  // auth
  `CREATE TABLE IF NOT EXISTS auth_users (
     username TEXT PRIMARY KEY,
     email TEXT NOT NULL,
     password_hash TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS auth_signing_keys (
     slot TEXT PRIMARY KEY,
     kid TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  // gateway: what each client request became
  `CREATE TABLE IF NOT EXISTS gateway_order_requests (
     request_id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     order_id TEXT,
     status TEXT NOT NULL,
     total_cents BIGINT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS gateway_order_requests_order ON gateway_order_requests (order_id)`,
  `CREATE TABLE IF NOT EXISTS gateway_order_history (
     request_id TEXT NOT NULL,
     status TEXT NOT NULL,
     at BIGINT NOT NULL,
     PRIMARY KEY (request_id, status)
   )`,
  // why the order service rejected a request's order (OrderStatusUpdated's metadata)
  `CREATE TABLE IF NOT EXISTS gateway_order_rejections (
     request_id TEXT PRIMARY KEY,
     errors TEXT NOT NULL
   )`,
  // why the order service could not process a request (a FAILED order's dead letter reason)
  `CREATE TABLE IF NOT EXISTS gateway_order_failures (
     request_id TEXT PRIMARY KEY,
     reason TEXT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS gateway_deposit_requests (
     deposit_id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     amount_cents BIGINT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  // order
  `CREATE TABLE IF NOT EXISTS orders (
     order_id TEXT PRIMARY KEY,
     request_id TEXT NOT NULL UNIQUE,
     username TEXT NOT NULL,
     items TEXT NOT NULL,
     delivery_address TEXT NOT NULL,
     payment_method TEXT NOT NULL,
     total_cents BIGINT NOT NULL,
     status TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   )`,
  // why an order is REJECTED (its own table: databases made before it keep their orders table)
  `CREATE TABLE IF NOT EXISTS order_rejections (
     order_id TEXT PRIMARY KEY,
     reason TEXT NOT NULL,
     errors TEXT NOT NULL,
     rejected_at BIGINT NOT NULL
   )`,
  // which dead letter a FAILED order's request is in, and its reason
  `CREATE TABLE IF NOT EXISTS order_failures (
     order_id TEXT PRIMARY KEY,
     dead_letter_id TEXT NOT NULL,
     reason TEXT NOT NULL,
     failed_at BIGINT NOT NULL
   )`,
  // the refund the order service asked for because of a dead letter of the saga's group (one per order)
  `CREATE TABLE IF NOT EXISTS order_refunds (
     order_id TEXT PRIMARY KEY,
     dead_letter_id TEXT NOT NULL,
     reason TEXT NOT NULL,
     requested_at BIGINT NOT NULL
   )`,
  // billing
  `CREATE TABLE IF NOT EXISTS billing_accounts (
     username TEXT PRIMARY KEY,
     balance_cents BIGINT NOT NULL CHECK (balance_cents >= 0),
     created_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS billing_payments (
     order_id TEXT PRIMARY KEY,
     request_id TEXT NOT NULL,
     username TEXT NOT NULL,
     amount_cents BIGINT NOT NULL,
     status TEXT NOT NULL,
     failure_reason TEXT,
     processed_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS billing_deposits (
     deposit_id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     amount_cents BIGINT NOT NULL,
     balance_after_cents BIGINT NOT NULL,
     applied_at BIGINT NOT NULL
   )`,
  // a deposit billing could not apply (its DepositRequested is a dead letter): never credited
  `CREATE TABLE IF NOT EXISTS billing_deposit_failures (
     deposit_id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     amount_cents BIGINT NOT NULL,
     dead_letter_id TEXT NOT NULL,
     reason TEXT NOT NULL,
     failed_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS billing_refunds (
     order_id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     amount_cents BIGINT NOT NULL,
     refunded_at BIGINT NOT NULL
   )`,
  // user
  `CREATE TABLE IF NOT EXISTS user_profiles (
     username TEXT PRIMARY KEY,
     email TEXT NOT NULL,
     registered_at BIGINT NOT NULL
   )`,
  // notification sender: each user's inbox
  `CREATE TABLE IF NOT EXISTS notifications (
     notification_id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     email TEXT NOT NULL,
     type TEXT NOT NULL,
     subject TEXT NOT NULL,
     content TEXT NOT NULL,
     order_id TEXT,
     request_id TEXT,
     sent_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS notifications_user ON notifications (username, sent_at)`,
];

/** Creates the tables if missing; safe from every process at start, on either engine. */
export async function migrate(stores: TransactionRunner<SqlTx>, engine: EngineKind): Promise<void> {
  await applySchema(stores, SCHEMA, { engine, lockName: 'herald-examples:async-orders:schema' });
}
