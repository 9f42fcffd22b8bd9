import { uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { GROUPS, PaymentAuthorized, TicketIssued } from '../events.js';

/** Options of {@link registerTicketService}. */
export interface TicketServiceOptions {
  readonly maybeFail: (where: string) => void;
}

/** ticket-service: for each PaymentAuthorized, issues one ticket and publishes TicketIssued. */
export function registerTicketService(app: App<SqlTx>, options: TicketServiceOptions): void {
  app.on(PaymentAuthorized, { group: GROUPS.ticket }, async (event, ctx) => {
    const { orderId, paymentId, flightId, seat } = event.data;
    const ticketId = uuidv7();
    await ctx.tx.execute(
      'INSERT INTO tickets (ticket_id, order_id, payment_id, flight_id, seat, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [ticketId, orderId, paymentId, flightId, seat, app.clock.now()],
    );
    await ctx.publish(TicketIssued, { orderId, ticketId, paymentId, flightId, seat });
    options.maybeFail(ctx.handler);
  });
}
