import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import { backoffDelay } from '../timing/backoff.js';
import type { PartitionWork } from './partitionWork.js';

const REDISPATCH_BACKOFF = { initialDelayMs: 100, maxDelayMs: 5000, factor: 2, jitter: 0.2 };

/** What the loop takes from its group consumer. */
export interface RetryDeps {
  readonly clock: Clock;
  /** Bound to the group: a line per failure, and one when a revoke gives up. */
  readonly logger: Logger;
}

/** A delivery or a batch of one partition, to run until it is done. */
export interface PartitionJob {
  readonly partition: PartitionWork;
  readonly what: 'delivery' | 'batch';
  readonly attempt: () => Promise<void>;
  /** Where it stands, for the line a failure logs: asked then, as a batch shrinks while it settles deliveries. */
  readonly where: () => Record<string, unknown>;
}

/**
 * Runs the job's `attempt` until it succeeds (true) or its partition's `halt` aborts (false),
 * backing off between tries: a failure outside the handler policies (a store down) is tried again,
 * not lost. The one loop of both modes of a group consumer, a delivery and a batch.
 */
export async function retryUntilHalted(deps: RetryDeps, job: PartitionJob): Promise<boolean> {
  const { halt } = job.partition.signals;
  for (let failures = 1; ; failures++) {
    try {
      await job.attempt();
      return true;
    } catch (error) {
      if (!halt.aborted) {
        const delayMs = backoffDelay(REDISPATCH_BACKOFF, failures);
        deps.logger.error(`${job.what} failed outside the handler policies; trying again`, { error, ...job.where(), delayMs });
        await deps.clock.sleep(delayMs, halt).catch(() => {});
      }
      if (halt.aborted) {
        abandoned(deps, job, error);
        return false;
      }
    }
  }
}

function abandoned(deps: RetryDeps, job: PartitionJob, error: unknown): void {
  const { tp, signals } = job.partition;
  // a close says so itself; a revoke that gives up on a failing delivery is worth a line
  if (signals.closing.aborted) return;
  deps.logger.warn(`partition revoked: a ${job.what} failing outside the handler policies is left uncommitted, for its next owner`, { error, topic: tp.topic, partition: tp.partition });
}
