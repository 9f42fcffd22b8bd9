import { uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { registerSaga, type SagaState } from '@herald/saga';
import { GROUPS, OrderCreated, OrderCreationRequested, orderItemsOf, OrderStatusUpdated, orderTotal, PAYMENT_FAILURES, type FinalStatus } from '../events.js';
import { orderSaga, type OrderSagaData } from '../saga.js';

/** Options of {@link registerOrderService}. */
export interface OrderServiceOptions {
  readonly paymentTimeoutMs: number;
  readonly maybeFail: (where: string) => void;
}

/**
 * order (seed 004's mini_order): turns each OrderCreationRequested into an order
 * (PENDING_VALIDATION) and its OrderCreated, one order per request, with the time billing may take
 * the payment until (`payBy`: now + `paymentTimeoutMs`, the payment step's deadline); only the
 * items' known fields are stored and passed on. Runs the order saga, and when the saga ends moves
 * the order to its final status and publishes OrderStatusUpdated, in the transaction that saves the
 * saga's change. Only a PENDING_VALIDATION order moves, so a final status is never overwritten.
 */
export function registerOrderService(app: App<SqlTx>, options: OrderServiceOptions): void {
  app.on(OrderCreationRequested, { group: GROUPS.order }, async (event, ctx) => {
    const { requestId, username, deliveryAddress, paymentMethod } = event.data;
    const items = orderItemsOf(event.data.items);
    const [existing] = await ctx.tx.query('SELECT 1 FROM orders WHERE request_id = $1', [requestId]);
    if (existing) return;
    const orderId = uuidv7();
    const totalCents = orderTotal(items);
    const now = app.clock.now();
    await ctx.tx.execute(
      `INSERT INTO orders (order_id, request_id, username, items, delivery_address, payment_method, total_cents, status, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING_VALIDATION', $8, $8)`,
      [orderId, requestId, username, JSON.stringify(items), deliveryAddress, paymentMethod, totalCents, now],
    );
    await ctx.publish(OrderCreated, { requestId, username, orderId, items, totalCents, createdAt: now, payBy: now + options.paymentTimeoutMs });
    options.maybeFail(ctx.handler);
  });

  registerSaga(app, orderSaga(options.paymentTimeoutMs), {
    group: GROUPS.orderSaga,
    effects: async (ctx, { state, previous }) => {
      const ended = state.status !== previous?.status && (state.status === 'completed' || state.status === 'failed');
      if (ended && state.data) {
        const status = finalStatus(state);
        const now = app.clock.now();
        const moved = await ctx.tx.execute("UPDATE orders SET status = $1, updated_at = $2 WHERE order_id = $3 AND status = 'PENDING_VALIDATION'", [status, now, state.data.orderId]);
        if (moved === 1) {
          const { orderId, requestId, username } = state.data;
          const [row] = await ctx.tx.query<{ total_cents: number }>('SELECT total_cents FROM orders WHERE order_id = $1', [orderId]);
          await ctx.publish(OrderStatusUpdated, {
            requestId,
            orderId,
            username,
            status,
            previousStatus: 'PENDING_VALIDATION',
            totalCents: row!.total_cents,
            updatedAt: now,
            metadata: state.failure ? { step: state.failure.step, reason: state.failure.reason, timedOut: state.failure.timedOut } : {},
          });
        }
      }
      options.maybeFail(ctx.handler);
    },
  });
}

/**
 * The status an ended saga gives its order. Billing's PAYMENT_EXPIRED is a timeout too: it can
 * reach the saga before the saga's own deadline does (both count from the order's creation).
 */
function finalStatus(state: SagaState<OrderSagaData>): FinalStatus {
  if (state.status === 'completed') return 'PAID';
  return state.failure?.timedOut || state.failure?.reason === PAYMENT_FAILURES.expired ? 'PAYMENT_TIMEOUT' : 'INSUFFICIENT_FUNDS';
}
