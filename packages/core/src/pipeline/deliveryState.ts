import type { DeliveryOutcome } from '../ports/instrumentation.js';

export type { DeliveryOutcome };

/**
 * How one delivery is going, shared by every policy of its pipeline: attempts made, when the
 * first failed, the last error, the outcome once known, and whether the consumer is closing.
 * Policies read it and record what they did through its methods; nothing else tracks a delivery,
 * so a policy written outside the core sees exactly what the built-in ones see.
 */
export interface DeliveryState {
  /** Attempts started so far: 1 during the first. */
  readonly attempts: number;
  /** When the first attempt failed (ms), or undefined while none has. */
  readonly firstFailureAt: number | undefined;
  /** The error the latest failed attempt ended with. */
  readonly lastError: Error | undefined;
  /** How the delivery ended, once a policy has settled it; undefined while it runs. */
  readonly outcome: DeliveryOutcome | undefined;
  /**
   * Aborted when the consumer starts closing or the delivery's partition is revoked: stop waiting
   * (backoffs), and leave a failing delivery to be redelivered (to the partition's next owner)
   * rather than dead-lettering it.
   */
  readonly closing: AbortSignal;
  /** Records that attempt number `attempt` (1-based) starts. */
  attemptStarted(attempt: number): void;
  /** Records a failed attempt. */
  attemptFailed(error: Error, at: number): void;
  /** Records the outcome. The first settle wins: later calls are ignored. */
  settle(outcome: DeliveryOutcome): void;
}

const NEVER = new AbortController().signal;

/** Creates the state of one delivery; `closing` defaults to a signal that never aborts. */
export function createDeliveryState(closing: AbortSignal = NEVER): DeliveryState {
  return new State(closing);
}

class State implements DeliveryState {
  attempts = 1;
  firstFailureAt: number | undefined = undefined;
  lastError: Error | undefined = undefined;
  outcome: DeliveryOutcome | undefined = undefined;

  constructor(readonly closing: AbortSignal) {}

  attemptStarted(attempt: number): void {
    this.attempts = attempt;
  }

  attemptFailed(error: Error, at: number): void {
    this.lastError = error;
    this.firstFailureAt ??= at;
  }

  settle(outcome: DeliveryOutcome): void {
    this.outcome ??= outcome;
  }
}
