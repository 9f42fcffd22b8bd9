import type { Delivery } from '../broker.js';
import type { Clock } from '../clock.js';
import { isHeraldError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import type { DeadLetter, DeadLetterPolicy, DeadLetterStatus, DeadLetterStore } from '../store.js';
import { uuidv7 } from '../uuid.js';

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
  readonly status: Exclude<DeadLetterStatus, 'redriven'>;
}

/** Builds and stores a dead letter. Resolves only once it is stored: the caller may then move on. */
export async function recordDeadLetter(
  deps: { store: DeadLetterStore; clock: Clock; instrumentation: Instrumentation },
  input: DeadLetterInput,
): Promise<DeadLetter> {
  const { delivery, error } = input;
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
    reason: input.status === 'parked' ? 'parked-behind-key' : reasonOf(error),
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
    status: input.status,
  };
  await deps.store.add(letter);
  if (deps.instrumentation.active) {
    deps.instrumentation.emit({ kind: 'dead-lettered', group: input.group, handler: input.handler, reason: letter.reason, status: input.status });
  }
  return letter;
}

/** The dead letter's reason: the error's code, or `handler-failed` for plain errors. */
export function reasonOf(error: Error): string {
  return isHeraldError(error) ? error.code : 'handler-failed';
}
