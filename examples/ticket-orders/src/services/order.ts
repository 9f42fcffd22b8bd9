import type { App, SqlTx } from '@herald/core';
import { GROUPS, PaymentDeclined, TicketIssued } from '../events.js';
import type { OrderStatus } from '../schema.js';

/** Options of {@link registerOrderService}. */
export interface OrderServiceOptions {
  readonly maybeFail: (where: string) => void;
}

/**
 * order-service: moves an order to its final status. TicketIssued -> TICKET_ISSUED;
 * PaymentDeclined -> CANCELLED, which also releases the seat (the live-seat unique index ignores
 * cancelled orders). Only a CREATED order moves, so a final status is never overwritten.
 */
export function registerOrderService(app: App<SqlTx>, options: OrderServiceOptions): void {
  const finish = async (tx: SqlTx, orderId: string, status: OrderStatus): Promise<number> =>
    tx.execute("UPDATE orders SET status = $1, updated_at = $2 WHERE order_id = $3 AND status = 'CREATED'", [status, app.clock.now(), orderId]);

  app.on(TicketIssued, { group: GROUPS.order }, async (event, ctx) => {
    if ((await finish(ctx.tx, event.data.orderId, 'TICKET_ISSUED')) === 0) {
      ctx.logger.warn('TicketIssued for an order that is not CREATED; left as is', { orderId: event.data.orderId });
    }
    options.maybeFail(ctx.handler);
  });

  app.on(PaymentDeclined, { group: GROUPS.order }, async (event, ctx) => {
    if ((await finish(ctx.tx, event.data.orderId, 'CANCELLED')) === 0) {
      ctx.logger.warn('PaymentDeclined for an order that is not CREATED; left as is', { orderId: event.data.orderId });
    }
    options.maybeFail(ctx.handler);
  });
}
