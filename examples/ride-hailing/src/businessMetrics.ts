import type { App, SqlTx } from '@herald/core';
import type { HeraldMetrics } from '@herald/metrics';
import { Gauge } from 'prom-client';
import { BOOKING_STATUSES } from './services/booking.js';

/** Name of the bookings gauge. */
export const BOOKINGS_METRIC = 'ride_bookings';
/** Name of the payments gauge. */
export const PAYMENTS_METRIC = 'ride_payments';

/**
 * Seed 000's business metrics ("сколько заказов создано, процент завершенных заказов, успешность
 * платежей, как часто саги падают"), read from the services' tables at each scrape, so they are
 * exact across restarts and the same from every process (take `max`, as with Herald's read-side
 * gauges): `ride_bookings{status}` (PENDING, CONFIRMED, CANCELLED, COMPLETED; a cancelled booking
 * is a failed saga) and `ride_payments{status}` (COMPLETED, FAILED). Registered on the app's
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
