import { decodeEnvelope, unstorableDataError, type Envelope } from '../model/envelope.js';
import { CoreErrors, toError } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { EventDefinition, EventRegistry } from '../model/events.js';
import { readEvent } from '../model/upcast.js';
import type { Delivery } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { Logger } from '../ports/logger.js';
import type { DeadLetterPolicy } from '../ports/stores/deadLetters.js';
import type { Stores } from '../ports/stores/stores.js';
import type { TimerStore } from '../ports/stores/timers.js';
import { createHandlerContext } from '../pipeline/context.js';
import { recordDeadLetter } from '../pipeline/deadLetters.js';
import { abandoned } from '../pipeline/policies/deadLetter.js';
import { redriveTargetOf } from '../pipeline/logRedrive.js';
import { createDeliveryState } from '../pipeline/deliveryState.js';
import type { BatchHandler, Handler, HandlerContext } from '../pipeline/handler.js';

/** A registered handler with its composed pipeline. */
export interface HandlerEntry<Tx> {
  readonly name: string;
  readonly group: string;
  readonly definitions: readonly EventDefinition[];
  /** Its dead-letter policy, also applied to poison events addressed to it. */
  readonly policy: DeadLetterPolicy;
  /** The handler in its pipeline: every delivery, or on the one-by-one path of a batch handler. */
  readonly pipeline: Handler<Envelope, Tx>;
  /** For a batch handler: the handler wrapped in the steps that have a batch part, and its per-batch deadline. */
  readonly batch?: { readonly handler: BatchHandler<Envelope, Tx>; readonly timeoutMs: number };
}

export interface GroupDispatchDeps<Tx> {
  readonly group: string;
  readonly registry: EventRegistry;
  /** Handler per event type, in this group. */
  readonly handlers: ReadonlyMap<string, HandlerEntry<Tx>>;
  readonly stores: Stores<Tx>;
  readonly clock: Clock;
  readonly instrumentation: Instrumentation;
  readonly logger: Logger;
  /** Dead-letter policy for events that match no handler (unknown types, malformed envelopes). */
  readonly defaultPolicy: DeadLetterPolicy;
  /** Largest serialised event a batch handler's `publish` accepts. */
  readonly maxEventBytes: number;
  /** Where a batch handler's `publish.schedule` keeps timers (absent: the stores have none). */
  readonly timers?: TimerStore<Tx>;
  /** Told after a batch's commit when it scheduled timers: the app wakes its scheduler. */
  readonly onScheduled?: (dueAt: number) => void;
}

/** What the consumer tells a dispatch about itself and the delivery's partition. */
export interface DispatchSignals {
  /** Aborted when the consumer starts closing: a failing delivery is abandoned (redelivered later), not dead-lettered. */
  readonly closing: AbortSignal;
  /** Aborted past the close deadline: running handlers are abandoned. */
  readonly stop: AbortSignal;
  /**
   * Aborted when the consumer starts closing or the delivery's partition is revoked: the handler
   * policies stop their backoffs and abandon a failing delivery (the delivery state's `closing`),
   * and a write the dispatch retries in place after its delivery was handled (marking a redrive's
   * letters) stops trying, so a revoke is held up neither by retries nor by a store that is down.
   */
  readonly halt: AbortSignal;
}

/** What reading a delivery found: a handler and its valid event, nothing to do, or a poison event. */
export type Resolution<Tx> =
  | { readonly kind: 'handle'; readonly entry: HandlerEntry<Tx>; readonly event: Envelope }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'poison'; readonly error: Error; readonly event: Envelope | undefined; readonly entry: HandlerEntry<Tx> | undefined };

/**
 * Reads a delivery: decodes the envelope, finds this group's handler for its type and reads the
 * event as the handler's definition does (`readEvent`: validated, an earlier version upcast).
 * Events of types the app knows but this group does not handle are ignored (any version), and so
 * are redrives through the log addressed to another group ({@link redriveTargetOf}); unknown types,
 * versions the handler does not read, malformed envelopes (text no store keeps in a field among
 * them), data holding such text (`schema-violation`, see `unstorableDataError`), schema
 * violations and failed upcasts are poison.
 */
export function resolveDelivery<Tx>(deps: GroupDispatchDeps<Tx>, delivery: Delivery): Resolution<Tx> {
  // a redrive through the log is for one group: the others already had this event
  const redrive = redriveTargetOf(delivery.headers);
  if (redrive !== undefined && redrive.group !== deps.group) return { kind: 'ignore' };
  let event: Envelope;
  try {
    event = decodeEnvelope(delivery.value, delivery.headers);
  } catch (error) {
    return { kind: 'poison', error: toError(error), event: undefined, entry: undefined };
  }
  const entry = deps.handlers.get(event.type);
  if (!entry) {
    // another group's type, whatever its version, is none of this group's business
    if (deps.registry.knows(event.type)) return { kind: 'ignore' };
    return { kind: 'poison', error: new HeraldError(CoreErrors.unknownEventType, `event type "${event.type}" is not defined in this app`), event, entry };
  }
  // checked once a handler is found: a group that ignores the event has nothing to refuse
  const unstorable = unstorableDataError(delivery.value, event);
  if (unstorable) return { kind: 'poison', error: unstorable, event, entry };
  // the handler's own version as it is (checked), an earlier one upcast, any other refused
  try {
    const read = readEvent(definitionOf(entry, event.type), event);
    if (read !== event && deps.instrumentation.active) {
      deps.instrumentation.emit({ kind: 'upcast', group: deps.group, eventType: event.type, fromVersion: event.version, toVersion: read.version });
    }
    return { kind: 'handle', entry, event: read };
  } catch (error) {
    return { kind: 'poison', error: toError(error), event, entry };
  }
}

/** Whether a delivery is a redrive through the log addressed to this group. */
export const redriveFor = <Tx>(deps: GroupDispatchDeps<Tx>, delivery: Delivery): boolean => redriveTargetOf(delivery.headers)?.group === deps.group;

function definitionOf<Tx>(entry: HandlerEntry<Tx>, type: string): EventDefinition {
  const { definitions } = entry;
  // most handlers take one definition
  if (definitions.length === 1) return definitions[0]!;
  return definitions.find((d) => d.type === type)!;
}

/** The context of one delivery, with a fresh delivery state whose `closing` is the partition's `halt`. */
export function contextFor<Tx>(
  deps: GroupDispatchDeps<Tx>,
  entry: HandlerEntry<Tx>,
  delivery: Delivery,
  options: { readonly closing?: AbortSignal; readonly halt?: AbortSignal; readonly stop?: AbortSignal; readonly redrive: boolean },
): HandlerContext<Tx> {
  return createHandlerContext<Tx>({
    group: deps.group,
    handler: entry.name,
    delivery,
    logger: deps.logger,
    redrive: options.redrive,
    // a revoke ends the delivery's backoffs as a close does: its failure is left to the next owner
    state: createDeliveryState(options.halt ?? options.closing),
    stop: options.stop,
  });
}

/**
 * Creates the group's dispatch: poison events go straight to the dead letter store, others through
 * their handler's pipeline. A redrive through the log addressed to this group settles its letter
 * once handled (see `settleRedrives`); a delivery abandoned by a closing consumer settles nothing.
 */
export function createDispatcher<Tx>(deps: GroupDispatchDeps<Tx>) {
  return async function dispatch(delivery: Delivery, signals: DispatchSignals): Promise<void> {
    const redrive = redriveFor(deps, delivery);
    if (redrive && (await redriveWithdrawn(deps, delivery))) return;
    const resolution = resolveDelivery(deps, delivery);
    if (resolution.kind === 'poison') await recordPoison(deps, delivery, resolution);
    else if (resolution.kind === 'handle') await resolution.entry.pipeline(resolution.event, contextFor(deps, resolution.entry, delivery, { ...signals, redrive: false }));
    if (redrive) await settleRedrives(deps, [delivery], signals.halt);
  };
}

/**
 * Whether this redrive through the log is for this group and its letter is no longer waiting for
 * it: discarded after the record was appended (an operator's later word), or already redriven (by
 * another run's record, or by `app.redrive`). The record is then skipped, as an ignored one:
 * handling it would apply a discarded event, or fail a second time into a second letter. A letter
 * not found (removed by retention) does not withdraw it: the record is handled.
 */
export async function redriveWithdrawn<Tx>(deps: GroupDispatchDeps<Tx>, delivery: Delivery): Promise<boolean> {
  const redrive = redriveTargetOf(delivery.headers);
  if (redrive?.group !== deps.group) return false;
  const { letter } = redrive;
  const [found] = await deps.stores.deadLetters.list({ ids: [letter] });
  if (found === undefined || found.status === 'dead' || found.status === 'parked') return false;
  deps.logger.info('redrive: its letter was settled meanwhile; record skipped', { letter, status: found.status, topic: delivery.topic, partition: delivery.partition, offset: delivery.offset });
  return true;
}

/** First and longest pause between attempts to mark a redrive's letters. */
const SETTLE_RETRY_MS = { first: 100, max: 5_000 } as const;

/**
 * Marks `redriven` the letters these handled deliveries redrove to this group (those of them that
 * are redrives through the log, see {@link redriveTargetOf}). Called right after each one is
 * handled, before the next delivery is resolved: a later event of the key then sees the key
 * released. The deliveries were handled already, so a failed mark is retried on its own
 * (never by dispatching them again, which would record their failures twice) until it succeeds or
 * `halt` aborts (the consumer closes, or the partition is revoked); then it throws `abandoned`, so
 * the deliveries stay uncommitted: redelivered (to the partition's next owner, or after a
 * restart), each is a duplicate the inbox absorbs, and its mark is tried again there. Committed,
 * the letter would stay dead, its key held under park-key, though its event had run.
 */
export async function settleRedrives<Tx>(deps: GroupDispatchDeps<Tx>, deliveries: readonly Delivery[], halt: AbortSignal): Promise<void> {
  const letters: string[] = [];
  for (const delivery of deliveries) {
    const redrive = redriveTargetOf(delivery.headers);
    if (redrive?.group === deps.group) letters.push(redrive.letter);
  }
  if (letters.length === 0) return;
  for (let pause: number = SETTLE_RETRY_MS.first; ; pause = Math.min(pause * 2, SETTLE_RETRY_MS.max)) {
    try {
      await deps.stores.deadLetters.setStatus(letters, 'redriven');
      return;
    } catch (error) {
      if (halt.aborted) {
        deps.logger.warn('redrive: handled, but its letters could not be marked redriven; left uncommitted, their redelivery marks them', { error, letters });
        throw abandoned(error);
      }
      deps.logger.warn('redrive: marking handled letters redriven failed; trying again', { error, letters });
      await deps.clock.sleep(pause, halt).catch(() => undefined);
    }
  }
}

/**
 * The handler name of a poison letter no handler of the group takes: `<group>:unknown-type` for an
 * event of a type the app does not define, `<group>:unreadable` for a record that is no envelope.
 * Not the record's type: that is whatever its producer wrote, and a handler name is a metric
 * label (`herald_dead_letters`), so made-up types would make a series each, for ever. The type
 * stays in the letter's `eventType`.
 */
function poisonHandler(group: string, event: Envelope | undefined): string {
  return `${group}:${event === undefined ? 'unreadable' : 'unknown-type'}`;
}

/** Stores a delivery that cannot be handled (unreadable, unknown type, schema violation) as a dead letter. */
export async function recordPoison<Tx>(deps: GroupDispatchDeps<Tx>, delivery: Delivery, resolution: Extract<Resolution<Tx>, { kind: 'poison' }>): Promise<void> {
  const { error, event, entry } = resolution;
  deps.logger.warn('poison event dead-lettered', { error, topic: delivery.topic, partition: delivery.partition, offset: delivery.offset });
  await recordDeadLetter({ store: deps.stores.deadLetters, clock: deps.clock, instrumentation: deps.instrumentation }, {
    group: deps.group,
    handler: entry?.name ?? poisonHandler(deps.group, event),
    delivery,
    eventId: event?.id ?? null,
    eventType: event?.type ?? null,
    error,
    attempts: 1,
    firstFailureAt: deps.clock.now(),
    policy: entry?.policy ?? deps.defaultPolicy,
    status: 'dead',
  });
}
