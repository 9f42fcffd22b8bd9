import type { Delivery } from '../broker.js';
import { decodeEnvelope, type Envelope } from '../envelope.js';
import { ErrorCodes, HeraldError, ValidationError, toError } from '../errors.js';
import type { EventRegistry } from '../events.js';
import type { Logger } from '../logger.js';
import type { DeadLetterPolicy } from '../store.js';
import { recordDeadLetter } from './deadLetters.js';
import type { HandlerEntry, PipelineDeps } from './handlerEntry.js';
import { RuntimeContext, type Abortable } from './runtimeContext.js';
import type { DeliveryState } from './state.js';

export interface GroupDispatchDeps<Tx> extends PipelineDeps<Tx> {
  readonly group: string;
  readonly registry: EventRegistry;
  /** Handler per event type, in this group. */
  readonly handlers: ReadonlyMap<string, HandlerEntry<Tx>>;
  readonly logger: Logger;
  /** Dead-letter policy for events that match no handler (unknown types, malformed envelopes). */
  readonly defaultPolicy: DeadLetterPolicy;
}

export interface DispatchInput {
  readonly delivery: Delivery;
  readonly closing: AbortSignal;
  readonly stop: AbortSignal;
  readonly redrive: boolean;
  readonly attemptsInFlight?: Set<Abortable>;
}

/** What reading a delivery found: a handler and its valid event, nothing to do, or a poison event. */
export type Resolution<Tx> =
  | { readonly kind: 'handle'; readonly entry: HandlerEntry<Tx>; readonly event: Envelope }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'poison'; readonly error: Error; readonly event: Envelope | undefined; readonly entry: HandlerEntry<Tx> | undefined };

/**
 * Reads a delivery: decodes the envelope, finds this group's handler for its type, validates the
 * data against the definition. Events of types the app knows but this group does not handle are
 * ignored; unknown types, unknown versions, malformed envelopes and schema violations are poison.
 */
export function resolveDelivery<Tx>(deps: GroupDispatchDeps<Tx>, delivery: Delivery): Resolution<Tx> {
  let event: Envelope;
  try {
    event = decodeEnvelope(delivery.value);
  } catch (error) {
    return { kind: 'poison', error: toError(error), event: undefined, entry: undefined };
  }
  const entry = deps.handlers.get(event.type);
  const definition = deps.registry.get(event.type, event.version);
  if (!definition) {
    const why = deps.registry.knows(event.type) ? `version ${event.version} of ${event.type} is not defined` : `event type "${event.type}" is not defined in this app`;
    return { kind: 'poison', error: new HeraldError(ErrorCodes.unknownEventType, why), event, entry };
  }
  if (!entry) return { kind: 'ignore' };
  const issues = definition.check(event.data);
  if (issues.length > 0) return { kind: 'poison', error: new ValidationError(event.type, issues), event, entry };
  return { kind: 'handle', entry, event };
}

/** Builds the context for one delivery and the state the middleware share. */
export function createContext<Tx>(
  input: DispatchInput & { readonly entry: HandlerEntry<Tx>; readonly logger: Logger; readonly group: string },
): { ctx: RuntimeContext<Tx>; state: DeliveryState } {
  const state: DeliveryState = { outcome: 'applied', attempts: 1, closing: input.closing, attemptsInFlight: input.attemptsInFlight };
  const ctx = new RuntimeContext<Tx>({
    logger: input.logger,
    group: input.group,
    handler: input.entry.name,
    delivery: input.delivery,
    redrive: input.redrive,
    stop: input.stop,
    state,
  });
  return { ctx, state };
}

/** Creates the group's dispatch: poison events go straight to the dead letter store, others through their handler's pipeline. */
export function createDispatcher<Tx>(deps: GroupDispatchDeps<Tx>) {
  return async function dispatch(delivery: Delivery, signals: { closing: AbortSignal; stop: AbortSignal; attemptsInFlight: Set<Abortable> }): Promise<void> {
    const resolution = resolveDelivery(deps, delivery);
    if (resolution.kind === 'ignore') return;
    if (resolution.kind === 'poison') {
      const { error, event, entry } = resolution;
      deps.logger.warn('poison event dead-lettered', { error, topic: delivery.topic, partition: delivery.partition, offset: delivery.offset });
      await recordDeadLetter({ store: deps.stores.deadLetters, clock: deps.clock, instrumentation: deps.instrumentation }, {
        group: deps.group,
        handler: entry?.name ?? `${deps.group}:${event?.type ?? 'unreadable'}`,
        delivery,
        eventId: event?.id ?? null,
        eventType: event?.type ?? null,
        error,
        attempts: 1,
        firstFailureAt: deps.clock.now(),
        policy: entry?.policy ?? deps.defaultPolicy,
        status: 'dead',
      });
      return;
    }
    const { ctx } = createContext({ delivery, ...signals, redrive: false, entry: resolution.entry, logger: deps.logger, group: deps.group });
    await resolution.entry.pipeline(resolution.event, ctx);
  };
}

