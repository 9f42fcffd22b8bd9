import type { App, SqlTx } from '@herald/core';
import type { HeraldMetrics } from '@herald/metrics';
import { Gauge } from 'prom-client';
import { BOOKING_STATUSES } from './services/booking.js';

/** Name of the bookings gauge. */
export const BOOKINGS_METRIC = 'ride_bookings';
/** Name of the payments gauge. */
export const PAYMENTS_METRIC = 'ride_payments';
/** Name of the gauge of the oldest pending booking's age. */
export const PENDING_AGE_METRIC = 'ride_bookings_pending_oldest_age_seconds';
/** Name of the gauge of how long the oldest driver has been held busy by a booking that ended. */
export const DRIVER_HELD_AGE_METRIC = 'ride_drivers_held_oldest_age_seconds';

/**
 * Seed 000's business metrics ("сколько заказов создано, процент завершенных заказов, успешность
 * платежей, как часто саги падают"), read from the services' tables at each scrape, so they are
 * exact across restarts and the same from every process (take `max`, as with Herald's read-side
 * gauges): `ride_bookings{status}` (PENDING, CONFIRMED, CANCELLED, COMPLETED; a cancelled booking
 * is a failed saga) and `ride_payments{status}` (COMPLETED, FAILED). Also how long the oldest
 * booking still PENDING has waited (`ride_bookings_pending_oldest_age_seconds`, 0 when none): a
 * choreography saga has no deadline, so a booking whose step was dead-lettered (or whose service
 * is down) waits until the step is redriven, and this is what says so. Likewise how long the oldest
 * driver still busy with a booking that ended (cancelled or completed) has been held
 * (`ride_drivers_held_oldest_age_seconds`): the driver's release (the saga's compensation, or the
 * ride's end) dead-lettered leaves the driver out of service, unassignable and unable to go offline,
 * with the booking over, where the pending gauge cannot see it. Registered on the app's metrics
 * registry, beside Herald's.
 */
export function registerBusinessMetrics(app: App<SqlTx>, metrics: HeraldMetrics): void {
  const countBy = async (table: 'bookings' | 'payments') =>
    app.read((tx) => tx.query<{ status: string; n: number }>(`SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`, []));
  new Gauge({
    name: BOOKINGS_METRIC,
    help: 'Bookings by status, read from the booking service\'s table at scrape (CANCELLED: the booking saga failed).',
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      const counts = new Map((await countBy('bookings')).map((r) => [r.status, r.n]));
      for (const status of BOOKING_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  new Gauge({
    name: PENDING_AGE_METRIC,
    help: 'Seconds the oldest booking still PENDING has waited for its saga (0 when none), read from the booking service\'s table at scrape.',
    registers: [metrics.registry],
    async collect() {
      const [row] = await app.read((tx) => tx.query<{ oldest: number | string | null }>("SELECT MIN(created_at) AS oldest FROM bookings WHERE status = 'PENDING'", []));
      this.set(ageSeconds(app, row?.oldest));
    },
  });
  new Gauge({
    name: DRIVER_HELD_AGE_METRIC,
    help: 'Seconds the oldest driver still busy with a booking that ended (cancelled or completed) has been held since it ended (0 when none), read from the driver and booking services\' tables at scrape.',
    registers: [metrics.registry],
    async collect() {
      const [row] = await app.read((tx) =>
        tx.query<{ oldest: number | string | null }>(
          "SELECT MIN(b.updated_at) AS oldest FROM drivers d JOIN bookings b ON b.booking_id = d.booking_id WHERE d.status = 'busy' AND b.status IN ('CANCELLED', 'COMPLETED')",
          [],
        ),
      );
      this.set(ageSeconds(app, row?.oldest));
    },
  });
  new Gauge({
    name: PAYMENTS_METRIC,
    help: 'Payments by status, read from the payment service\'s table at scrape.',
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      const counts = new Map((await countBy('payments')).map((r) => [r.status, r.n]));
      for (const status of ['COMPLETED', 'FAILED']) this.set({ status }, counts.get(status) ?? 0);
    },
  });
}

/** Seconds from `since` (a time in ms, as a driver may return BIGINT: a string) to now; 0 when there is none. */
function ageSeconds(app: App<SqlTx>, since: number | string | null | undefined): number {
  return since === null || since === undefined ? 0 : Math.max(0, (app.clock.now() - Number(since)) / 1000);
}
