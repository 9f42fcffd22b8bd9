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

/**
 * Seed 000's business metrics ("сколько заказов создано, процент завершенных заказов, успешность
 * платежей, как часто саги падают"), read from the services' tables at each scrape, so they are
 * exact across restarts and the same from every process (take `max`, as with Herald's read-side
 * gauges): `ride_bookings{status}` (PENDING, CONFIRMED, CANCELLED, COMPLETED; a cancelled booking
 * is a failed saga) and `ride_payments{status}` (COMPLETED, FAILED). Also how long the oldest
 * booking still PENDING has waited (`ride_bookings_pending_oldest_age_seconds`, 0 when none): a
 * choreography saga has no deadline, so a booking whose step was dead-lettered (or whose service
 * is down) waits until the step is redriven, and this is what says so. Registered on the app's
 * metrics registry, beside Herald's.
 */
export function registerBusinessMetrics(app: App<SqlTx>, metrics: HeraldMetrics): void {
  const countBy = async (table: 'bookings' | 'payments') =>
    app.transaction((tx) => tx.query<{ status: string; n: number }>(`SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`, []));
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
      const [row] = await app.transaction((tx) => tx.query<{ oldest: number | string | null }>("SELECT MIN(created_at) AS oldest FROM bookings WHERE status = 'PENDING'", []));
      const oldest = row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest);
      this.set(oldest === undefined ? 0 : Math.max(0, (app.clock.now() - oldest) / 1000));
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
