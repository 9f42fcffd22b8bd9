import type { App, HandlerContext, SqlTx } from '@herald/core';
import { BookingCreated, GROUPS, PaymentFailed, RIDER_FRAUD_RULES, RiderFraudSuspected } from '../events.js';
import { IMPOSSIBLE_SPEED, registerLocationFraud } from './locationFraud.js';
import { countInRiderWindow, type RiderWindowOptions } from './riderWindows.js';

/** Every rule whose alerts `GET /fraud/alerts` lists. */
export const FRAUD_RULES = [...RIDER_FRAUD_RULES, IMPOSSIBLE_SPEED] as const;
/** One of {@link FRAUD_RULES}. */
export type FraudRule = (typeof FRAUD_RULES)[number];

/** Options of {@link registerFraudService}. */
export interface FraudOptions extends RiderWindowOptions {
  /** `FRAUD_FAILED_PAYMENTS`: this many failed payments of one rider in one window raise an alert. */
  readonly failedPayments: number;
  /** `FRAUD_BOOKINGS`: this many bookings of one rider in one window raise an alert. */
  readonly bookings: number;
  /** `FRAUD_MAX_SPEED_KMH`: a driver seen moving faster than this between two points raises an alert. */
  readonly maxSpeedKmh: number;
}

/**
 * fraud: the seed's fraud-group, which reads only payment and booking events and raises an alert
 * the moment a rider reaches a rule's count in one tumbling window of event time (`windowMs`):
 * - `repeated-failed-payments`: `failedPayments` PaymentFailed of the rider (card testing: a
 *   stolen card tried, declined, tried again). Event time: the payment's `occurredAt`.
 * - `booking-burst`: `bookings` BookingCreated of the rider (a script, or an account shared out).
 *   Event time: the booking's `createdAt`.
 *
 * One alert per rider, rule and window (RiderFraudSuspected on `fraud-alerts`, kept in
 * `fraud_rule_alerts` with a count that keeps growing), whatever the order the rider's events
 * come in: bookings are keyed by region, so one rider's reach the group on several partitions, and
 * the count is kept per rider in the store (see {@link countInRiderWindow}), in the handler's
 * transaction with the inbox mark and the outgoing alert.
 *
 * The service also runs location-fraud-group, the GPS speed check (see {@link registerLocationFraud}).
 */
export function registerFraudService(app: App<SqlTx>, options: FraudOptions): void {
  const group = GROUPS.fraud;
  app.on(PaymentFailed, { group }, async (event, ctx) => {
    const { riderId, bookingId } = event.data;
    await applyRule(ctx, options, options.failedPayments, { rule: 'repeated-failed-payments', riderId, bookingId, at: Date.parse(event.occurredAt) });
  });
  app.on(BookingCreated, { group }, async (event, ctx) => {
    const { riderId, bookingId, createdAt } = event.data;
    await applyRule(ctx, options, options.bookings, { rule: 'booking-burst', riderId, bookingId, at: createdAt });
  });
  registerLocationFraud(app, options);
}

type RiderRule = (typeof RIDER_FRAUD_RULES)[number];

/** Counts the fact; at `threshold` facts in its window raises the window's alert, once; above, updates its count. */
async function applyRule(ctx: HandlerContext<SqlTx>, windows: RiderWindowOptions, threshold: number, fact: { rule: RiderRule; riderId: string; bookingId: string; at: number }): Promise<void> {
  const counted = await countInRiderWindow(ctx.tx, fact, windows);
  if (counted.outcome === 'late') {
    ctx.logger.warn('event too late for its fraud window, not counted', { ...fact, newestAt: counted.newestAt });
    return;
  }
  if (counted.outcome !== 'counted' || counted.bookingIds.length < threshold) return;
  const { rule, riderId } = fact;
  const { windowStart, windowEnd, bookingIds } = counted;
  const alertId = `${rule}:${riderId}:${windowStart}`;
  const raised = await ctx.tx.execute(
    'INSERT INTO fraud_rule_alerts (alert_id, rule, subject_id, event_count, speed_kmh, from_at, to_at) VALUES ($1, $2, $3, $4, NULL, $5, $6) ON CONFLICT (alert_id) DO NOTHING',
    [alertId, rule, riderId, bookingIds.length, windowStart, windowEnd],
  );
  if (raised === 0) {
    await ctx.tx.execute('UPDATE fraud_rule_alerts SET event_count = $1 WHERE alert_id = $2', [bookingIds.length, alertId]);
    return;
  }
  await ctx.publish(RiderFraudSuspected, { alertId, rule, riderId, bookingIds: [...bookingIds], windowStart, windowEnd });
  ctx.logger.warn('rider fraud suspected', { alertId, rule, riderId, bookings: bookingIds.length });
}
