import { uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { GROUPS, OrderCreated, PaymentAuthorized, PaymentDeclined } from '../events.js';

/** Options of {@link registerPaymentService}. */
export interface PaymentServiceOptions {
  /** A price above this is declined. */
  readonly limitCents: number;
  readonly maybeFail: (where: string) => void;
}

/**
 * payment-service: for each OrderCreated, records one payment (AUTHORIZED, or DECLINED when the
 * price is above the limit) and publishes PaymentAuthorized or PaymentDeclined, all in the
 * handler's transaction with the inbox mark, so a redelivered OrderCreated pays nothing twice.
 */
export function registerPaymentService(app: App<SqlTx>, options: PaymentServiceOptions): void {
  app.on(OrderCreated, { group: GROUPS.payment }, async (event, ctx) => {
    const { orderId, flightId, seat, priceCents } = event.data;
    const paymentId = uuidv7();
    const declined = priceCents > options.limitCents;
    await ctx.tx.execute(
      'INSERT INTO payments (payment_id, order_id, amount_cents, status, created_at) VALUES ($1, $2, $3, $4, $5)',
      [paymentId, orderId, priceCents, declined ? 'DECLINED' : 'AUTHORIZED', app.clock.now()],
    );
    if (declined) {
      await ctx.publish(PaymentDeclined, { orderId, paymentId, amountCents: priceCents, limitCents: options.limitCents, reason: 'amount over the payment limit' });
    } else {
      await ctx.publish(PaymentAuthorized, { orderId, paymentId, flightId, seat, amountCents: priceCents });
    }
    options.maybeFail(ctx.handler);
  });
}
