import type { App, SqlTx } from '@herald/core';
import type { HeraldMetrics } from '@herald/metrics';
import { Gauge } from 'prom-client';

/** Name of the gauge of how long the oldest refund owed to a customer has been owed. */
export const REFUND_OWED_AGE_METRIC = 'orders_refunds_owed_oldest_age_seconds';
/** Name of the gauge of the money owed to customers, in cents. */
export const REFUNDS_OWED_CENTS_METRIC = 'orders_refunds_owed_cents';

/**
 * The refunds owed: orders that ended without their payment (any final status but PAID: the
 * saga's deadline passed, or its events were dead-lettered and the order FAILED) while billing's
 * payment for them SUCCEEDED, with no refund recorded. Billing applies a refund its handler
 * dead-lettered from the letter (services/refunds.ts), but while the cause stays it can only retry
 * and log: this is what a dashboard and an alert can see. Owed since the order ended (`updated_at`).
 */
const OWED = `FROM orders o
  JOIN billing_payments p ON p.order_id = o.order_id AND p.status = 'SUCCEEDED'
  WHERE o.status NOT IN ('PAID', 'PENDING_VALIDATION')
    AND NOT EXISTS (SELECT 1 FROM billing_refunds r WHERE r.order_id = o.order_id)`;

/**
 * Seed 004's money owed to customers, read from the order and billing services' tables at each
 * scrape, so it is exact across restarts and the same from every process (take `max`):
 * `orders_refunds_owed_cents` (what is owed, 0 when nothing) and
 * `orders_refunds_owed_oldest_age_seconds` (how long the oldest refund owed has been, 0 when none).
 * The dead-letter alert stops once the refund's letter is 10 minutes old, and the customer was told
 * nothing was charged; these say so until the money is given back. Registered on the app's metrics
 * registry, beside Herald's.
 */
export function registerBusinessMetrics(app: App<SqlTx>, metrics: HeraldMetrics): void {
  new Gauge({
    name: REFUNDS_OWED_CENTS_METRIC,
    help: 'Cents owed to customers for orders that ended without their payment while billing took it and refunded nothing yet (0 when none), read from the order and billing services\' tables at scrape.',
    registers: [metrics.registry],
    async collect() {
      const [row] = await app.read((tx) => tx.query<{ owed: number | string | null }>(`SELECT SUM(p.amount_cents) AS owed ${OWED}`, []));
      this.set(Number(row?.owed ?? 0));
    },
  });
  new Gauge({
    name: REFUND_OWED_AGE_METRIC,
    help: 'Seconds since the oldest order owed a refund ended without its payment (0 when none), read from the order and billing services\' tables at scrape.',
    registers: [metrics.registry],
    async collect() {
      const [row] = await app.read((tx) => tx.query<{ oldest: number | string | null }>(`SELECT MIN(o.updated_at) AS oldest ${OWED}`, []));
      const since = row?.oldest;
      this.set(since === null || since === undefined ? 0 : Math.max(0, (app.clock.now() - Number(since)) / 1000));
    },
  });
}
