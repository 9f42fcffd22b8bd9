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
  // fraud (location-fraud-group): each driver's last point
  `CREATE TABLE IF NOT EXISTS fraud_last_location (
     driver_id TEXT PRIMARY KEY,
     lat DOUBLE PRECISION NOT NULL,
     lon DOUBLE PRECISION NOT NULL,
     at BIGINT NOT NULL
   )`,
  // fraud (fraud-group): the riders' failed payments and bookings a rule still counts, once per
  // booking and rule (a fact delivered again under another event id is not counted twice), and
  // each rider's newest event time per rule: the row a rider's events lock, one after another
  // (see services/riderWindows.ts)
  `CREATE TABLE IF NOT EXISTS fraud_rider_events (
     rule TEXT NOT NULL,
     booking_id TEXT NOT NULL,
     rider_id TEXT NOT NULL,
     at BIGINT NOT NULL,
     PRIMARY KEY (rule, booking_id)
   )`,
  `CREATE INDEX IF NOT EXISTS fraud_rider_events_rider ON fraud_rider_events (rule, rider_id, at)`,
  `CREATE TABLE IF NOT EXISTS fraud_rider_marks (
     rule TEXT NOT NULL,
     rider_id TEXT NOT NULL,
     newest_at BIGINT NOT NULL,
     PRIMARY KEY (rule, rider_id)
   )`,
  // fraud: every alert raised, by either group: a rider rule's has its window's event_count, the speed
  // rule's the speed between its two points (from_at, to_at: the window, or the two points' times)
  `CREATE TABLE IF NOT EXISTS fraud_rule_alerts (
     alert_id TEXT PRIMARY KEY,
     rule TEXT NOT NULL,
     subject_id TEXT NOT NULL,
     event_count INTEGER,
     speed_kmh DOUBLE PRECISION,
     from_at BIGINT NOT NULL,
     to_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS fraud_rule_alerts_newest ON fraud_rule_alerts (to_at, alert_id)`,
  `CREATE INDEX IF NOT EXISTS fraud_rule_alerts_rule ON fraud_rule_alerts (rule, to_at, alert_id)`,
  // earlier versions kept only the speed alerts, here: they move to fraud_rule_alerts (on a new
  // data dir, a no-op; WHERE true: SQLite needs a WHERE to parse an upsert fed by a SELECT)
  `CREATE TABLE IF NOT EXISTS fraud_alerts (
     alert_id TEXT PRIMARY KEY,
     driver_id TEXT NOT NULL,
     speed_kmh DOUBLE PRECISION NOT NULL,
     from_at BIGINT NOT NULL,
     to_at BIGINT NOT NULL
   )`,
  `INSERT INTO fraud_rule_alerts (alert_id, rule, subject_id, event_count, speed_kmh, from_at, to_at)
     SELECT 'impossible-speed:' || alert_id, 'impossible-speed', driver_id, NULL, speed_kmh, from_at, to_at FROM fraud_alerts WHERE true
     ON CONFLICT (alert_id) DO NOTHING`,
  `DELETE FROM fraud_alerts`,
];

/** Creates the tables if missing; safe from every process at start, on either engine. */
export async function migrate(stores: TransactionRunner<SqlTx>, engine: EngineKind): Promise<void> {
  await applySchema(stores, SCHEMA, { engine, lockName: 'herald-examples:ride-hailing:schema' });
}
