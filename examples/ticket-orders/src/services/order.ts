import type { App, SqlTx } from '@herald/core';
import { registerSaga } from '@herald/saga';
import { GROUPS } from '../events.js';
import { TicketOrderSaga } from '../saga.js';
import type { OrderStatus } from '../schema.js';

/** Options of {@link registerOrderService}. */
export interface OrderServiceOptions {
  readonly maybeFail: (where: string) => void;
}

/**
 * order-service: runs the order's saga ({@link TicketOrderSaga}) and moves the order to its final
 * status when the saga ends, in the transaction that saves the saga's change: completed (the
 * ticket was issued) -> TICKET_ISSUED; failed (the payment was declined) -> CANCELLED, which also
 * releases the seat (the live-seat unique index ignores cancelled orders). Only a CREATED order
 * moves, so a final status is never overwritten.
 */
export function registerOrderService(app: App<SqlTx>, options: OrderServiceOptions): void {
  const finish = async (tx: SqlTx, orderId: string, status: OrderStatus): Promise<number> =>
    tx.execute("UPDATE orders SET status = $1, updated_at = $2 WHERE order_id = $3 AND status = 'CREATED'", [status, app.clock.now(), orderId]);

  registerSaga(app, TicketOrderSaga, {
    group: GROUPS.order,
    effects: async (ctx, { state, previous }) => {
      const ended = state.status !== previous?.status && (state.status === 'completed' || state.status === 'failed');
      if (ended && state.data) {
        const status: OrderStatus = state.status === 'completed' ? 'TICKET_ISSUED' : 'CANCELLED';
        if ((await finish(ctx.tx, state.data.orderId, status)) === 0) {
          ctx.logger.warn('the saga ended for an order that is not CREATED; left as is', { orderId: state.data.orderId, saga: state.status });
        }
      }
      options.maybeFail(ctx.handler);
    },
  });
}
