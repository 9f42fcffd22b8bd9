import { uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { GROUPS, PaymentAuthorized, TicketIssued, VoidTicket } from '../events.js';

/** Options of {@link registerTicketService}. */
export interface TicketServiceOptions {
  readonly maybeFail: (where: string) => void;
}

/**
 * ticket-service. For each PaymentAuthorized, issues one ticket and publishes TicketIssued, unless
 * the order's ticket is void. For each VoidTicket (the order failed), voids the order's ticket: a
 * `ticket_voids` row says that whatever ticket the order has, or gets, is not valid. So a
 * PaymentAuthorized handled after the void (its dead letter redriven) issues nothing, and a ticket
 * issued before it (ticket-service came back after the deadline, with the PaymentAuthorized ahead
 * of the VoidTicket in their partition) is void. Both events are on `payments`, keyed by the order
 * id: one partition, handled one after the other in the order they were written.
 */
export function registerTicketService(app: App<SqlTx>, options: TicketServiceOptions): void {
  app.on(PaymentAuthorized, { group: GROUPS.ticket }, async (event, ctx) => {
    const { orderId, paymentId, flightId, seat } = event.data;
    const voided = await ctx.tx.query('SELECT order_id FROM ticket_voids WHERE order_id = $1', [orderId]);
    if (voided.length > 0) {
      ctx.logger.warn('ticket-service: the order failed and its ticket is void; none issued', { orderId });
    } else {
      const ticketId = uuidv7();
      await ctx.tx.execute(
        'INSERT INTO tickets (ticket_id, order_id, payment_id, flight_id, seat, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [ticketId, orderId, paymentId, flightId, seat, app.clock.now()],
      );
      await ctx.publish(TicketIssued, { orderId, ticketId, paymentId, flightId, seat });
    }
    options.maybeFail(ctx.handler);
  });

  app.on(VoidTicket, { group: GROUPS.ticket }, async (event, ctx) => {
    const { orderId, reason } = event.data;
    await ctx.tx.execute('INSERT INTO ticket_voids (order_id, reason, voided_at) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING', [orderId, reason, app.clock.now()]);
    const issued = await ctx.tx.query('SELECT ticket_id FROM tickets WHERE order_id = $1', [orderId]);
    ctx.logger.info('ticket-service: ticket voided', { orderId, reason, issued: issued.length > 0 });
    options.maybeFail(ctx.handler);
  });
}
