import { decodeEnvelope } from '@herald/core';
import type { InboxStore, OutboxStore } from '@herald/core';
import { findSaga, type SagaStatus, type SagaStepStatus } from '@herald/saga';
import { CONSUMERS_BY_TYPE } from './events.js';
import { TicketOrderSaga } from './saga.js';
import type { OrderView } from './schema.js';

/** One consumer group's view of one event: whether its inbox has it. */
export interface ConsumerState {
  readonly group: string;
  readonly processed: boolean;
  readonly processedAt: string | null;
}

/** One event of an order's saga, as the workflow view shows it. */
export interface WorkflowEvent {
  readonly type: string;
  readonly eventId: string;
  /** The event that caused it (null for OrderCreated). */
  readonly causationId: string | null;
  readonly topic: string;
  readonly key: string;
  /** When it was written to the outbox. */
  readonly time: string;
  /** Whether the relay has published it to the log yet. */
  readonly published: boolean;
  readonly publishedAt: string | null;
  /** Every consumer group that handles this type, and whether it has processed this event. */
  readonly consumers: readonly ConsumerState[];
}

/**
 * Where the order's saga stands, as its instance says. `awaiting-start` (every step `waiting`,
 * `startedAt` null): order-service's saga holds later events of the order (PaymentAuthorized,
 * PaymentDeclined, TicketIssued) but not its OrderCreated, which is late or was dead-lettered; it
 * applies them once OrderCreated comes.
 */
export interface SagaView {
  readonly status: SagaStatus;
  readonly steps: readonly { readonly name: string; readonly status: SagaStepStatus; readonly endedAt: string | null; readonly reason: string | null }[];
  readonly startedAt: string | null;
  readonly endedAt: string | null;
}

/** GET /orders/{id}/workflow: the order, its saga and the saga's events. */
export interface Workflow {
  readonly order: OrderView;
  /** Null until order-service's saga has handled any event of the order, and once retention deleted its finished instance. */
  readonly saga: SagaView | null;
  readonly events: readonly WorkflowEvent[];
}

/**
 * Builds the workflow view of an order (what seed 003's front end draws): where its saga stands
 * (its instance in the saga store), and every event of the flow in outbox order (the order id is
 * the saga's correlation id) — the saga's own transitions left out, they are in `saga` — with its
 * publication state from the outbox and, per consumer group, its processing state from the inbox.
 * The stores must have saga state (the engine's do).
 */
export async function buildWorkflow(
  stores: {
    readonly outbox: Pick<OutboxStore<unknown>, 'findByCorrelation'>;
    readonly inbox: Pick<InboxStore<unknown>, 'findHandled'>;
  },
  order: OrderView,
): Promise<Workflow> {
  const entries = (await stores.outbox.findByCorrelation(order.orderId)).filter((entry) => entry.topic !== TicketOrderSaga.topic);
  const marks = entries.length === 0 ? [] : await stores.inbox.findHandled(entries.map((e) => e.id));
  const handled = new Map(marks.map((m) => [`${m.group}\u0000${m.eventId}`, m.handledAt]));
  const events = entries.map((entry): WorkflowEvent => {
    const consumers = (CONSUMERS_BY_TYPE[entry.type] ?? []).map((group): ConsumerState => {
      const at = handled.get(`${group}\u0000${entry.id}`);
      return { group, processed: at !== undefined, processedAt: at === undefined ? null : new Date(at).toISOString() };
    });
    return {
      type: entry.type,
      eventId: entry.id,
      causationId: causationOf(entry.value),
      topic: entry.topic,
      key: entry.key,
      time: new Date(entry.createdAt).toISOString(),
      published: entry.publishedAt !== null,
      publishedAt: entry.publishedAt === null ? null : new Date(entry.publishedAt).toISOString(),
      consumers,
    };
  });
  return { order, saga: sagaView(await findSaga(stores, TicketOrderSaga, order.orderId)), events };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function sagaView(saga: Awaited<ReturnType<typeof findSaga>>): SagaView | null {
  if (!saga) return null;
  return {
    status: saga.status,
    steps: saga.steps.map((step) => ({ name: step.name, status: step.status, endedAt: iso(step.endedAt), reason: step.reason })),
    startedAt: iso(saga.startedAt),
    endedAt: iso(saga.endedAt),
  };
}

function causationOf(wire: string): string | null {
  try {
    return decodeEnvelope(wire).causationId;
  } catch {
    return null;
  }
}
