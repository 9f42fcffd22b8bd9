import { defineSaga, emit, on, type SagaCommand, type SagaDefinition, type SagaFailure } from '@herald/saga';
import { CancelPayment, OrderCreated, PaymentAuthorized, PaymentDeclined, TicketIssued, VoidTicket } from './events.js';

/** What the saga keeps of an order. */
export interface TicketOrderData {
  readonly orderId: string;
}

/** Options of {@link ticketOrderSaga}. */
export interface TicketOrderSagaOptions {
  /** How long each step (payment, then ticket) may take once active (`ORDER_STEP_DEADLINE_MS`). */
  readonly stepDeadlineMs: number;
}

/** Each step's deadline by default: 5 minutes, far beyond a step's retries (about 15 s) and a rebalance. */
export const DEFAULT_STEP_DEADLINE_MS = 300_000;

/**
 * The order's saga (seed 003), choreographed: payment-service and ticket-service react to the
 * events on their own; the saga follows the order — payment authorized or declined, then the
 * ticket issued — and publishes each transition on `ticket-order-saga`. Keyed by the order's
 * correlation id, which is its order id.
 *
 * A declined payment fails it: nothing was taken, and the order-service's effect of that failure
 * (CANCELLED) frees the seat. A step with no answer by its deadline (`stepDeadlineMs`, a durable
 * timer of `@herald/saga`) fails it too: its event was dead-lettered, or its service is down. The
 * order is then FAILED (seat freed), and payment-service and ticket-service are asked to undo
 * whatever they did, or will do, for it (CancelPayment, VoidTicket: idempotent, and they hold for
 * what the participant does later, its letter redriven or its service back):
 *
 * - a payment the saga saw is cancelled by the payment step's compensation (the framework's);
 * - what the saga cannot know, by `onFailed`: the payment when the payment step timed out (its
 *   answer may be a dead letter of the saga's own, or still on its way), and the ticket always (a
 *   TicketIssued may be on its way);
 * - a payment or ticket that completes after the saga failed is compensated at once, again (the
 *   framework's late completion): whatever letters are redriven, in whatever order, nothing taken
 *   or issued for a failed order stays.
 */
export function ticketOrderSaga(options: TicketOrderSagaOptions): SagaDefinition<TicketOrderData> {
  const { stepDeadlineMs: deadlineMs } = options;
  return defineSaga({
    name: 'ticket-order',
    startedBy: OrderCreated,
    initial: (event): TicketOrderData => ({ orderId: event.data.orderId }),
  })
    .step('payment', {
      deadlineMs,
      completedBy: on(PaymentAuthorized),
      failedBy: on(PaymentDeclined, { reason: (event) => event.data.reason }),
      compensate: (data) => [cancelPayment(data.orderId, COMPENSATED)],
    })
    .step('ticket', { deadlineMs, completedBy: on(TicketIssued), compensate: (data) => [voidTicket(data.orderId, COMPENSATED)] })
    .onFailed((data, failure) => {
      if (!failure.timedOut) return [];
      const reason = failureReason(failure);
      // the ticket step's failure compensated the payment (completed) already
      return failure.step === 'payment' ? undoOrder(data.orderId, reason) : [voidTicket(data.orderId, reason)];
    });
}

/** The reason a compensation gives: the saga failed after (or before) the step completed. */
const COMPENSATED = 'ticket-order saga failed';

/** The saga with the default deadline: its name and topic, for readers of its instances (the workflow view). */
export const TicketOrderSaga = ticketOrderSaga({ stepDeadlineMs: DEFAULT_STEP_DEADLINE_MS });

/** Why an order's saga failed, as the order shows it: `ticket: no answer within 300000 ms`. */
export function failureReason(failure: SagaFailure): string {
  return `${failure.step}: ${failure.reason}`;
}

/** The commands that undo whatever payment-service and ticket-service did, or will do, for an order. */
export function undoOrder(orderId: string, reason: string): SagaCommand[] {
  return [cancelPayment(orderId, reason), voidTicket(orderId, reason)];
}

const cancelPayment = (orderId: string, reason: string) => emit(CancelPayment, { orderId, reason });
const voidTicket = (orderId: string, reason: string) => emit(VoidTicket, { orderId, reason });
