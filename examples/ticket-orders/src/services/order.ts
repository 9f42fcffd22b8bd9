import type { App, HandlerContext, SqlTx } from '@herald/core';
import { registerSaga, type SagaState } from '@herald/saga';
import { GROUPS } from '../events.js';
import { failureReason, ticketOrderSaga, undoOrder, type TicketOrderData } from '../saga.js';
import { endOrder, type OrderEnd } from '../schema.js';
import { sagaLetters } from './sagaLetters.js';

/** Options of {@link registerOrderService}. */
export interface OrderServiceOptions {
  /** Each saga step's deadline (`ORDER_STEP_DEADLINE_MS`). */
  readonly stepDeadlineMs: number;
  readonly maybeFail: (where: string) => void;
}

/**
 * order-service: runs the order's saga ({@link ticketOrderSaga}) and moves the order to its final
 * status when the saga ends, in the transaction that saves the saga's change: completed (the
 * ticket was issued) -> TICKET_ISSUED; failed by a declined payment -> CANCELLED; failed by a
 * step's deadline -> FAILED, with the saga's CancelPayment and VoidTicket in the same
 * transaction. CANCELLED and FAILED release the seat (the live-seat unique index ignores them) and
 * record why (`order_failures`). Only a CREATED order moves, so a final status is never
 * overwritten: a saga that ends later (a letter of its own redriven) leaves the order as it is,
 * and one that completes for an order that FAILED meanwhile sends CancelPayment and VoidTicket again.
 *
 * Also runs {@link sagaLetters}, which ends FAILED the orders whose saga cannot end on its own.
 */
export function registerOrderService(app: App<SqlTx>, options: OrderServiceOptions): void {
  registerSaga(app, ticketOrderSaga({ stepDeadlineMs: options.stepDeadlineMs }), {
    group: GROUPS.order,
    effects: async (ctx, { state, previous }) => {
      const ended = state.status !== previous?.status && (state.status === 'completed' || state.status === 'failed');
      if (ended && state.data) await endOrderOf(ctx, state.data.orderId, state, app.clock.now());
      options.maybeFail(ctx.handler);
    },
  });
  app.use(sagaLetters(app));
}

/**
 * Moves the order as its ended saga says. An order that ended first stays as it is; when it had
 * FAILED (sagaLetters) and its saga completed after all (the letter redriven), the payment and
 * ticket the saga saw complete are undone again.
 */
async function endOrderOf(ctx: HandlerContext<SqlTx>, orderId: string, state: SagaState<TicketOrderData>, now: number): Promise<void> {
  if (await endOrder(ctx.tx, endOf(orderId, state, now))) return;
  if (state.status !== 'completed') {
    ctx.logger.warn('the saga failed for an order that had ended; left as is', { orderId });
    return;
  }
  for (const command of undoOrder(orderId, 'the order had failed')) await ctx.publish(command.definition, command.data);
  ctx.logger.warn('the saga completed for an order that had failed; left FAILED, its payment and ticket undone', { orderId });
}

/** The order's end for its ended saga: completed, or failed by a declined payment or a missed deadline. */
function endOf(orderId: string, state: SagaState<TicketOrderData>, now: number): OrderEnd {
  if (state.status === 'completed') return { orderId, status: 'TICKET_ISSUED', now };
  const failure = state.failure ?? { step: 'saga', reason: 'failed', timedOut: false };
  return { orderId, status: failure.timedOut ? 'FAILED' : 'CANCELLED', reason: failureReason(failure), now };
}
