import type { SqlTx, TransactionRunner } from '@herald/core';
import { applySchema, type EngineKind } from '@herald/engine';

/**
 * Each service's tables, in the SQL common to SQLite and PostgreSQL. The services share one
 * database (the embedded engine's file, or one PostgreSQL database) but each writes only its own.
 */
export const SCHEMA: readonly string[] = [
  // booking
  `CREATE TABLE IF NOT EXISTS bookings (
     booking_id TEXT PRIMARY KEY,
     rider_id TEXT NOT NULL,
     region_id TEXT NOT NULL,
     distance_km DOUBLE PRECISION NOT NULL,
     status TEXT NOT NULL,
     price_cents BIGINT,
     surge_multiplier DOUBLE PRECISION,
     driver_id TEXT,
     reason TEXT,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS bookings_status ON bookings (status)`,
  // the saga steps booking has logged, once each
  `CREATE TABLE IF NOT EXISTS booking_saga_steps (
     booking_id TEXT NOT NULL,
     step TEXT NOT NULL,
     PRIMARY KEY (booking_id, step)
   )`,
  // pricing: each region's surge multipliers, one row per closed window, for the bookings created
  // after its end; rows a hold older than the region's newest are deleted (see services/pricing.ts)
  `CREATE TABLE IF NOT EXISTS pricing_surge_windows (
     region_id TEXT NOT NULL,
     window_end BIGINT NOT NULL,
     multiplier DOUBLE PRECISION NOT NULL,
     bookings INTEGER NOT NULL,
     PRIMARY KEY (region_id, window_end)
   )`,
  // earlier versions kept only each region's newest window, here: its rows move to
  // pricing_surge_windows, so a data dir written by them keeps its surges (on a new one, a no-op)
  `CREATE TABLE IF NOT EXISTS pricing_surge (
     region_id TEXT PRIMARY KEY,
     multiplier DOUBLE PRECISION NOT NULL,
     bookings INTEGER NOT NULL,
     window_end BIGINT NOT NULL
   )`,
  // (WHERE true: SQLite needs a WHERE to parse an upsert fed by a SELECT)
  `INSERT INTO pricing_surge_windows (region_id, window_end, multiplier, bookings)
     SELECT region_id, window_end, multiplier, bookings FROM pricing_surge WHERE true
     ON CONFLICT (region_id, window_end) DO NOTHING`,
  `DELETE FROM pricing_surge`,
  // driver
  `CREATE TABLE IF NOT EXISTS drivers (
     driver_id TEXT PRIMARY KEY,
     region_id TEXT NOT NULL,
     status TEXT NOT NULL,
     booking_id TEXT,
     updated_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS drivers_free ON drivers (region_id, status)`,
  // payment
  `CREATE TABLE IF NOT EXISTS wallets (
     rider_id TEXT PRIMARY KEY,
     balance_cents BIGINT NOT NULL CHECK (balance_cents >= 0)
   )`,
  `CREATE TABLE IF NOT EXISTS payments (
     booking_id TEXT PRIMARY KEY,
     rider_id TEXT NOT NULL,
     amount_cents BIGINT NOT NULL,
     status TEXT NOT NULL,
     reason TEXT,
     processed_at BIGINT NOT NULL
   )`,
  // notification: each rider's pushes
  `CREATE TABLE IF NOT EXISTS ride_notifications (
     notification_id TEXT PRIMARY KEY,
     rider_id TEXT NOT NULL,
     type TEXT NOT NULL,
     text TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS ride_notifications_rider ON ride_notifications (rider_id, created_at)`,
  // fraud: each driver's last point, and the alerts raised
  `CREATE TABLE IF NOT EXISTS fraud_last_location (
     driver_id TEXT PRIMARY KEY,
     lat DOUBLE PRECISION NOT NULL,
     lon DOUBLE PRECISION NOT NULL,
     at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS fraud_alerts (
     alert_id TEXT PRIMARY KEY,
     driver_id TEXT NOT NULL,
     speed_kmh DOUBLE PRECISION NOT NULL,
     from_at BIGINT NOT NULL,
     to_at BIGINT NOT NULL
   )`,
];

/** Creates the tables if missing; safe from every process at start, on either engine. */
export async function migrate(stores: TransactionRunner<SqlTx>, engine: EngineKind): Promise<void> {
  await applySchema(stores, SCHEMA, { engine, lockName: 'herald-examples:ride-hailing:schema' });
}
