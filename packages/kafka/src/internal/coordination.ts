import { CoreErrors, HeraldError } from '@herald/core';
import type { Clock, Logger } from '@herald/core';
import { kafkaErrorNames, kafkaErrorTypes } from './errors.js';

/**
 * Answers that mean "the group is moving, ask again", never "no": the coordinator is loading the
 * group or has moved to another broker, or the group is in the middle of a rebalance. kafkajs
 * retries some of them inside one request, but not across a coordinator move or a rejoin.
 */
const COORDINATION = new Set([
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);

/**
 * Whether `error` (or anything it wraps) is a coordination answer worth a fresh attempt — or
 * kafkajs's `KafkaJSGroupCoordinatorNotFound`, which it throws (as fatal, without a cause) when no
 * broker answered its FindCoordinator request in time: seen on a loaded machine, gone on the next
 * attempt.
 */
export function isCoordinationError(error: unknown): boolean {
  for (const type of kafkaErrorTypes(error)) if (COORDINATION.has(type)) return true;
  return kafkaErrorNames(error).has('KafkaJSGroupCoordinatorNotFound');
}

/**
 * Whether a join failed because the broker refused a SyncGroup that came after the leader's. The
 * mock cluster completes a generation as soon as the leader's SyncGroup arrives and answers
 * INVALID_REQUEST to a follower whose SyncGroup comes later; kafkajs deems that fatal, yet it is
 * a race lost, not an answer, and joining again settles it.
 */
export function isRefusedSync(error: unknown): boolean {
  return kafkaErrorTypes(error).has('INVALID_REQUEST');
}

export interface CoordinationRetryOptions {
  /** What is being done, for the log and the timeout message. */
  readonly doing: string;
  /** Time (clock milliseconds) after which no further attempt starts. */
  readonly deadline: number;
  /** Pause between attempts, so a moved coordinator or a rebalance can settle. */
  readonly backoffMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Which failures are worth another attempt; others are thrown at once. Default {@link isCoordinationError}. */
  readonly retryIf?: (error: unknown) => boolean;
}

/**
 * Runs `attempt` again after each failure that `retryIf` accepts, until it settles otherwise.
 * When the deadline leaves no room for another attempt, fails with a retriable `timeout` whose
 * cause is the last failure. `attempt` is given the milliseconds left, to bound its own waits.
 */
export async function retryCoordination<T>(attempt: (remainingMs: number) => Promise<T>, options: CoordinationRetryOptions): Promise<T> {
  const { clock, deadline, backoffMs } = options;
  const retryIf = options.retryIf ?? isCoordinationError;
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt(deadline - clock.now());
    } catch (error) {
      if (!retryIf(error)) throw error;
      if (clock.now() + backoffMs >= deadline) {
        throw new HeraldError(CoreErrors.timeout, `kafka: ${options.doing} did not settle: the group kept moving (${attempts} attempts)`, { retriable: true, cause: error });
      }
      options.logger.debug('kafka: the group is moving; trying again', { doing: options.doing, attempts, error });
      await clock.sleep(backoffMs);
    }
  }
}
