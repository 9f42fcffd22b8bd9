import { CoreErrors } from '../model/errorCodes.js';
import { isHeraldError } from '../model/errors.js';
import { uuidv7 } from '../model/uuid.js';
import type { Delivery } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import { describeThrown } from '../ports/logging/describeThrown.js';
import { redactText } from '../ports/logging/redact.js';
import { jsonReadyFields } from '../ports/logging/serializeError.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { DeadLetter, DeadLetterCause, DeadLetterPolicy, DeadLetterStatus, DeadLetterStore } from '../ports/stores/deadLetters.js';
import { fingerprintOfError } from './fingerprint.js';

export interface DeadLetterInput {
  readonly group: string;
  readonly handler: string;
  readonly delivery: Delivery;
  readonly eventId: string | null;
  readonly eventType: string | null;
  readonly error: Error;
  readonly attempts: number;
  readonly firstFailureAt: number;
  readonly policy: DeadLetterPolicy;
  readonly status: 'dead' | 'parked';
}

export interface DeadLetterDeps {
  readonly store: DeadLetterStore;
  readonly clock: Clock;
  readonly instrumentation: Instrumentation;
}

/**
 * Builds and stores a dead letter. Resolves only once it is stored, with the letter the store
 * keeps: the open letter of the record when it has one already (it failed again after a
 * redelivery: see `DeadLetterStore.add`). Only a letter stored anew is reported as dead-lettered.
 */
export async function recordDeadLetter(deps: DeadLetterDeps, input: DeadLetterInput): Promise<DeadLetter> {
  const { delivery, error } = input;
  const reason = input.status === 'parked' ? CoreErrors.parkedBehindKey.code : reasonOf(error);
  const letter: DeadLetter = {
    id: uuidv7(deps.clock.now()),
    group: input.group,
    handler: input.handler,
    eventId: input.eventId,
    eventType: input.eventType,
    topic: delivery.topic,
    partition: delivery.partition,
    offset: delivery.offset,
    key: delivery.key,
    reason,
    fingerprint: fingerprintOfError(reason, error),
    // credentials the error carries (a driver's connection string, an HTTP client's bearer token)
    // are redacted as the logs redact them: operators list letters, and stores keep them for weeks;
    // the envelope, what a redrive appends again, is kept as it came
    error: {
      name: error.name,
      message: redactText(error.message),
      ...(error.stack === undefined ? {} : { stack: redactText(error.stack) }),
      ...(isHeraldError(error) && error.details ? { details: jsonReadyFields(error.details) } : {}),
      ...causeOf(error, MAX_CAUSES),
    },
    attempts: input.attempts,
    firstFailureAt: input.firstFailureAt,
    lastFailureAt: deps.clock.now(),
    envelope: delivery.value,
    headers: delivery.headers,
    policy: input.policy,
    status: input.status satisfies DeadLetterStatus,
  };
  const kept = await deps.store.add(letter);
  if (kept) return kept;
  if (deps.instrumentation.active) {
    deps.instrumentation.emit({ kind: 'dead-lettered', group: input.group, handler: input.handler, topic: delivery.topic, reason, status: input.status });
  }
  return letter;
}

/** The dead letter's reason: the error's code, or `handler-failed` for plain errors. */
export function reasonOf(error: Error): string {
  return isHeraldError(error) ? error.code : CoreErrors.handlerFailed.code;
}

/** How many links of an error's cause chain a letter keeps (a longer chain, or a cycle, is cut there). */
const MAX_CAUSES = 5;

/** `{ cause }` for an error that has one, as plain data a store keeps as JSON; `{}` otherwise. */
function causeOf(error: Error, depth: number): { cause?: DeadLetterCause } {
  const { cause } = error;
  if (cause === undefined || cause === null || depth === 0) return {};
  // JSON, a string quoted: `{"code":"E42"}`, `"issuer said no"`; credentials redacted
  if (!(cause instanceof Error)) return { cause: { name: typeof cause, message: describeThrown(cause, { json: true }) } };
  const code = (cause as { code?: unknown }).code;
  return {
    cause: {
      name: cause.name,
      message: redactText(cause.message),
      ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
      ...causeOf(cause, depth - 1),
    },
  };
}
