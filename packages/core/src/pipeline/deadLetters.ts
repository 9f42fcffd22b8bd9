import { CoreErrors } from '../model/errorCodes.js';
import { isHeraldError } from '../model/errors.js';
import { uuidv7 } from '../model/uuid.js';
import type { Delivery } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { DeadLetter, DeadLetterPolicy, DeadLetterStatus, DeadLetterStore } from '../ports/stores/deadLetters.js';
import { fingerprintOf } from './fingerprint.js';

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

/** Builds and stores a dead letter. Resolves only once it is stored: the caller may then move on. */
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
    fingerprint: fingerprintOf(reason, error.stack),
    error: {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(isHeraldError(error) && error.details ? { details: error.details } : {}),
    },
    attempts: input.attempts,
    firstFailureAt: input.firstFailureAt,
    lastFailureAt: deps.clock.now(),
    envelope: delivery.value,
    headers: delivery.headers,
    policy: input.policy,
    status: input.status satisfies DeadLetterStatus,
  };
  await deps.store.add(letter);
  if (deps.instrumentation.active) {
    deps.instrumentation.emit({ kind: 'dead-lettered', group: input.group, handler: input.handler, topic: delivery.topic, reason, status: input.status });
  }
  return letter;
}

/** The dead letter's reason: the error's code, or `handler-failed` for plain errors. */
export function reasonOf(error: Error): string {
  return isHeraldError(error) ? error.code : CoreErrors.handlerFailed.code;
}
