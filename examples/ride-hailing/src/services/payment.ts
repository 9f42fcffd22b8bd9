import type { App, SqlTx } from '@herald/core';
import { DriverAssigned, GROUPS, PaymentCompleted, PaymentFailed } from '../events.js';

/** Why a payment failed. */
export const INSUFFICIENT_FUNDS = 'insufficient-funds';

/**
 * payment: takes each assigned ride's price from the rider's wallet, never below zero (the
 * balance check is in the UPDATE itself), one payment per booking. A rider without the money
 * gets PaymentFailed, which cancels the booking and releases the driver.
 */
export function registerPaymentService(app: App<SqlTx>): void {
  app.on(DriverAssigned, { group: GROUPS.payment }, async (event, ctx) => {
    const { bookingId, riderId, regionId, driverId, priceCents } = event.data;
    const [done] = await ctx.tx.query('SELECT 1 FROM payments WHERE booking_id = $1', [bookingId]);
    if (done) return;
    const debited = await ctx.tx.execute('UPDATE wallets SET balance_cents = balance_cents - $1 WHERE rider_id = $2 AND balance_cents >= $1', [priceCents, riderId]);
    const paid = debited === 1;
    await ctx.tx.execute('INSERT INTO payments (booking_id, rider_id, amount_cents, status, reason, processed_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      bookingId,
      riderId,
      priceCents,
      paid ? 'COMPLETED' : 'FAILED',
      paid ? null : INSUFFICIENT_FUNDS,
      app.clock.now(),
    ]);
    if (paid) await ctx.publish(PaymentCompleted, { bookingId, riderId, regionId, driverId, amountCents: priceCents });
    else await ctx.publish(PaymentFailed, { bookingId, riderId, regionId, driverId, amountCents: priceCents, reason: INSUFFICIENT_FUNDS });
  });
}
