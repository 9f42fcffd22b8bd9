import { uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { CancelPayment, GROUPS, OrderCreated, PaymentAuthorized, PaymentDeclined } from '../events.js';

/** Options of {@link registerPaymentService}. */
export interface PaymentServiceOptions {
  /** A price above this is declined. */
  readonly limitCents: number;
  readonly maybeFail: (where: string) => void;
}

/**
 * payment-service. For each OrderCreated, records one payment (AUTHORIZED, or DECLINED when the
 * price is above the limit) and publishes PaymentAuthorized or PaymentDeclined, all in the
 * handler's transaction with the inbox mark, so a redelivered OrderCreated pays nothing twice.
 *
 * For each CancelPayment (the order failed), gives the money back: an AUTHORIZED payment becomes
 * REFUNDED; with no payment yet, a VOIDED one (nothing taken) is recorded in its place. An order has
 * one payment row (`payments.order_id` is unique), and both handlers write it first, so whichever
 * commits second sees the other's: an OrderCreated handled after the cancellation (its dead letter
 * redriven, the service back after the deadline) finds the VOIDED payment, takes nothing and
 * publishes nothing; a cancellation handled after the charge refunds it. Either way the order's
 * money is taken at most once and given back when it failed.
 */
export function registerPaymentService(app: App<SqlTx>, options: PaymentServiceOptions): void {
  app.on(OrderCreated, { group: GROUPS.payment }, async (event, ctx) => {
    const { orderId, flightId, seat, priceCents } = event.data;
    const paymentId = uuidv7();
    const declined = priceCents > options.limitCents;
    const recorded = await ctx.tx.execute(
      'INSERT INTO payments (payment_id, order_id, amount_cents, status, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING',
      [paymentId, orderId, priceCents, declined ? 'DECLINED' : 'AUTHORIZED', app.clock.now()],
    );
    if (recorded === 0) {
      ctx.logger.warn('payment-service: the order has its payment record already (cancelled before it was paid); nothing taken', { orderId });
    } else if (declined) {
      await ctx.publish(PaymentDeclined, { orderId, paymentId, amountCents: priceCents, limitCents: options.limitCents, reason: 'amount over the payment limit' });
    } else {
      await ctx.publish(PaymentAuthorized, { orderId, paymentId, flightId, seat, amountCents: priceCents });
    }
    options.maybeFail(ctx.handler);
  });

  app.on(CancelPayment, { group: GROUPS.payment }, async (event, ctx) => {
    const { orderId, reason } = event.data;
    const voided = await ctx.tx.execute(
      "INSERT INTO payments (payment_id, order_id, amount_cents, status, created_at) VALUES ($1, $2, 0, 'VOIDED', $3) ON CONFLICT (order_id) DO NOTHING",
      [uuidv7(), orderId, app.clock.now()],
    );
    const refunded = voided === 1 ? 0 : await ctx.tx.execute("UPDATE payments SET status = 'REFUNDED' WHERE order_id = $1 AND status = 'AUTHORIZED'", [orderId]);
    ctx.logger.info('payment-service: payment cancelled', { orderId, reason, outcome: voided === 1 ? 'voided' : refunded === 1 ? 'refunded' : 'nothing taken' });
    options.maybeFail(ctx.handler);
  });
}
