import { uuidv7 } from '@herald/core';
import type { App, HandlerContext, SqlTx, ValidationIssue } from '@herald/core';
import { registerSaga, type SagaState } from '@herald/saga';
import { deadLetterOutcomes } from '../deadLetterOutcomes.js';
import { GROUPS, OrderCreated, OrderCreationRequested, orderItemsOf, OrderStatusUpdated, PAYMENT_FAILURES, REJECTION_REASON, REQUESTED, type FinalStatus, type Rejection } from '../events.js';
import { orderRequestIssues, orderTotal } from '../orderRules.js';
import { orderSaga, type OrderSagaData } from '../saga.js';
import { orderRequestFailures } from './orderFailures.js';
import { failedOrdersStartNoSaga, paymentFailures, sagaEnded } from './paymentFailures.js';

/** Options of {@link registerOrderService}. */
export interface OrderServiceOptions {
  readonly paymentTimeoutMs: number;
  readonly maybeFail: (where: string) => void;
}

/**
 * order (seed 004's mini_order): validates each OrderCreationRequested against the order rules
 * (orderRules.ts: the gateway's own, but the event may come from another producer, an older
 * release or a redriven dead letter) and turns it into an order, one order per request. A valid
 * request becomes a PENDING_VALIDATION order and its OrderCreated, with the time billing may take
 * the payment until (`payBy`: now + `paymentTimeoutMs`, the payment step's deadline). An invalid
 * one becomes a REJECTED order with its reason (`order_rejections`) and an OrderStatusUpdated at
 * once: no OrderCreated, so billing never sees it and no saga starts. Only the items' known
 * fields are stored and passed on. A redelivered request (the same request id) changes nothing.
 *
 * Runs the order saga, and when the saga ends moves the order to its final status and publishes
 * OrderStatusUpdated, in the transaction that saves the saga's change. Only a PENDING_VALIDATION
 * order moves, so a final status is never overwritten.
 *
 * A request it cannot process (its event dead-lettered in its group) ends FAILED
 * ({@link orderRequestFailures}); redriven later, it finds that order and creates none. An order
 * whose saga events the saga's group dead-letters ends too, its money given back
 * ({@link paymentFailures}).
 */
export function registerOrderService(app: App<SqlTx>, options: OrderServiceOptions): void {
  app.use(deadLetterOutcomes(app, { name: 'order-dead-letters', rules: [orderRequestFailures(app), ...paymentFailures(app)], wakeOn: sagaEnded }));
  app.on(OrderCreationRequested, { group: GROUPS.order }, async (event, ctx) => {
    const { requestId, username, deliveryAddress, paymentMethod } = event.data;
    const [existing] = await ctx.tx.query<{ status: string }>('SELECT status FROM orders WHERE request_id = $1', [requestId]);
    if (existing) {
      // its client was told FAILED and may have ordered again: this request must not charge now
      if (existing.status === 'FAILED') ctx.logger.warn('order request already ended FAILED (its event was dead-lettered); this delivery creates no order', { requestId });
      return;
    }
    const items = orderItemsOf(event.data.items);
    const errors = orderRequestIssues(event.data);
    const order: NewOrder = { orderId: uuidv7(), requestId, username, totalCents: orderTotal(items), now: app.clock.now() };
    await ctx.tx.execute(
      `INSERT INTO orders (order_id, request_id, username, items, delivery_address, payment_method, total_cents, status, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
      [order.orderId, requestId, username, JSON.stringify(items), deliveryAddress, paymentMethod, order.totalCents, errors.length > 0 ? 'REJECTED' : 'PENDING_VALIDATION', order.now],
    );
    if (errors.length > 0) {
      await reject(ctx, order, errors);
    } else {
      const { orderId, totalCents, now } = order;
      await ctx.publish(OrderCreated, { requestId, username, orderId, items, totalCents, createdAt: now, payBy: now + options.paymentTimeoutMs });
    }
    options.maybeFail(ctx.handler);
  });

  registerSaga(app, orderSaga(options.paymentTimeoutMs), {
    group: GROUPS.orderSaga,
    pipeline: (pipeline) => pipeline.append(failedOrdersStartNoSaga()),
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

/** An order being created: its ids, owner, total and creation time. */
interface NewOrder {
  readonly orderId: string;
  readonly requestId: string;
  readonly username: string;
  readonly totalCents: number;
  readonly now: number;
}

/** Records why the order is REJECTED and publishes its final status (in the handler's transaction). */
async function reject(ctx: HandlerContext<SqlTx>, order: NewOrder, errors: readonly ValidationIssue[]): Promise<void> {
  const rejection: Rejection = { reason: REJECTION_REASON, errors };
  await ctx.tx.execute('INSERT INTO order_rejections (order_id, reason, errors, rejected_at) VALUES ($1, $2, $3, $4)', [order.orderId, rejection.reason, JSON.stringify(errors), order.now]);
  const { orderId, requestId, username, totalCents, now } = order;
  await ctx.publish(OrderStatusUpdated, { requestId, orderId, username, status: 'REJECTED', previousStatus: REQUESTED, totalCents, updatedAt: now, metadata: { ...rejection } });
}
