import { decodeEnvelope, toError } from '@herald/core';
import type { App, Component, DeadLetter, Envelope, SqlTx } from '@herald/core';
import { findSaga, sagaEvents, type SagaEventData } from '@herald/saga';
import { GROUPS, OrderCreated } from '../events.js';
import { TicketOrderSaga, undoOrder } from '../saga.js';
import { endOrder } from '../schema.js';

/** First and longest pause before a pass that failed (the store unreachable) runs again. */
const RETRY_MS = { first: 1_000, max: 30_000 } as const;

/**
 * The event types whose dead letter in order-service's group leaves an order's saga with nothing
 * that would end it: OrderCreated (the saga never starts, so no deadline runs) and a step's
 * SagaDeadlineReached (the deadline came, and could not be applied). A letter of a step's event
 * (PaymentAuthorized, PaymentDeclined, TicketIssued) needs nothing here: the step's deadline ends
 * the saga.
 */
const DEADLINE = sagaEvents(TicketOrderSaga.topic).SagaDeadlineReached.type;
const STALLING: ReadonlySet<string> = new Set([OrderCreated.type, DEADLINE]);

/**
 * Ends FAILED every order whose saga order-service cannot carry to its end. For each such letter of
 * order-service's group (`dead`, or `discarded` by an operator) whose order is still CREATED, in
 * one transaction: the order becomes FAILED (its seat released, `order_failures` naming the
 * letter), and CancelPayment and VoidTicket are published, as the saga does when a step times out,
 * so payment-service refunds what it took and ticket-service voids what it issued.
 *
 * A letter counts only while it stalls the saga: an OrderCreated whose saga has not started, a
 * deadline the saga would have applied (its step still active with that deadline). A deadline the
 * saga would ignore (the step completed first: its timer fired as the answer came; or the saga
 * ended), or an OrderCreated the saga applied after all, stalls nothing, and the order goes on.
 *
 * FAILED is final. The letter stays for the operator, and a redrive of it does no harm: the saga
 * starts (or takes its deadline) and may end either way, but only a CREATED order moves; the
 * cancellations hold for what payment-service and ticket-service do afterwards, and a saga that
 * completes for the FAILED order sends them again (services/order.ts).
 *
 * Runs a pass when it starts (letters left by an earlier run, or by another process) and after
 * each letter order-service's group records in this process (the `dead-lettered` fact), one pass
 * at a time; a pass that fails runs again after a pause, until it succeeds or the component closes.
 */
export function sagaLetters(app: App<SqlTx>): Component {
  /** Letters this process has settled: each is looked at once per run, not once per pass. */
  const settled = new Set<string>();
  const stop = new AbortController();
  let wanted = false;
  let running: Promise<void> | undefined;
  let unsubscribe: (() => void) | undefined;

  async function pass(): Promise<void> {
    const store = app.stores.deadLetters;
    const letters = [...(await store.list({ group: GROUPS.order, status: 'dead' })), ...(await store.list({ group: GROUPS.order, status: 'discarded' }))];
    const failures: Error[] = [];
    for (const letter of letters) {
      if (settled.has(letter.id) || letter.eventType === null || !STALLING.has(letter.eventType)) continue;
      try {
        if (await stalls(app, letter)) await failOrder(app, letter);
        else app.logger.info('saga letters: the saga applied this event after all, or would ignore it; the order goes on', { orderId: letter.key, letter: letter.id, eventType: letter.eventType });
        settled.add(letter.id);
      } catch (error) {
        failures.push(toError(error));
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} order(s) of dead letters could not be ended FAILED`);
  }

  async function drain(): Promise<void> {
    let pause: number = RETRY_MS.first;
    while (wanted && !stop.signal.aborted) {
      wanted = false;
      try {
        await pass();
        pause = RETRY_MS.first;
      } catch (error) {
        wanted = true;
        app.logger.warn('saga letters: a pass failed; it runs again', { error, pauseMs: pause });
        await app.clock.sleep(pause, stop.signal).catch(() => undefined);
        pause = Math.min(pause * 2, RETRY_MS.max);
      }
    }
  }

  // one drain at a time; a request that comes while one ends (after its last look at `wanted`) starts the next
  const request = (): void => {
    wanted = true;
    running ??= drain().finally(() => {
      running = undefined;
      if (wanted && !stop.signal.aborted) request();
    });
  };

  return {
    name: 'saga-letters',
    async start(signal) {
      signal.addEventListener('abort', () => stop.abort(), { once: true });
      unsubscribe = app.instrumentation.on((fact) => {
        if (fact.kind === 'dead-lettered' && fact.group === GROUPS.order && fact.status === 'dead') request();
      });
      request();
    },
    async close() {
      unsubscribe?.();
      stop.abort();
      await running;
    },
  };
}

/**
 * Whether the letter stops its order's saga, as the saga stands now: an OrderCreated when the saga
 * has not started (none, awaiting its start, or ended unstarted after `awaitStartMs`); a deadline
 * when the saga would have applied it (as `@herald/saga` decides: the saga running, the step active
 * with this very deadline). A letter of
 * an event the saga applied after all (redelivered, after a crash or a rebalance that followed the
 * letter, to a handler that succeeded) or would ignore (a step that completed as its timer fired)
 * fails no order that goes on.
 */
async function stalls(app: App<SqlTx>, letter: DeadLetter): Promise<boolean> {
  const saga = await findSaga(app.stores, TicketOrderSaga, letter.key);
  if (letter.eventType !== DEADLINE) return !saga || saga.startedAt === null;
  const event = causeOf(letter);
  // unreadable, the saga could not apply it either
  if (!event) return true;
  const { saga: name, instanceId, step, deadlineAt } = event.data as SagaEventData['SagaDeadlineReached'];
  const current = name === TicketOrderSaga.name && instanceId === letter.key && saga?.status === 'running' ? saga.steps.find((s) => s.name === step) : undefined;
  return current?.status === 'active' && current.deadlineAt === deadlineAt;
}

/** Ends the letter's order FAILED and asks for its payment and ticket to be undone, unless it ended already. */
async function failOrder(app: App<SqlTx>, letter: DeadLetter): Promise<void> {
  // every event of the flow, a deadline's too, is keyed by its order id
  const orderId = letter.key;
  const reason = `${GROUPS.order}: ${letter.eventType} dead-lettered (${letter.reason})`;
  const cause = causeOf(letter);
  const failed = await app.transaction(async (tx, publish) => {
    if (!(await endOrder(tx, { orderId, status: 'FAILED', reason, deadLetterId: letter.id, now: app.clock.now() }))) return false;
    for (const command of undoOrder(orderId, reason)) {
      await publish(command.definition, command.data, cause ? { cause } : { correlationId: orderId });
    }
    return true;
  });
  if (failed) app.logger.warn('order ended FAILED: order-service dead-lettered an event its saga needs', { orderId, letter: letter.id, reason: letter.reason });
}

/** The letter's event, to cause the cancellations (its correlation id and trace), when it can be read. */
function causeOf(letter: DeadLetter): Envelope | undefined {
  try {
    return decodeEnvelope(letter.envelope, letter.headers);
  } catch {
    return undefined;
  }
}
