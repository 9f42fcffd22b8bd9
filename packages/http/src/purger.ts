import { silentLogger } from '@herald/core';
import type { Clock, IdempotencyStore, Logger } from '@herald/core';

/** Options of {@link startIdempotencyPurger}. */
export interface PurgerOptions {
  readonly store: Pick<IdempotencyStore<unknown>, 'purgeExpired'>;
  readonly clock: Clock;
  /** Time between purges. */
  readonly intervalMs: number;
  readonly logger?: Logger;
  /** Called after each purge with how many records were deleted (for tests and metrics). */
  readonly onPurged?: (count: number) => void;
}

/** A background loop deleting expired idempotency records. */
export interface Purger {
  /** Stops the loop, waiting for a purge in progress. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts purging expired idempotency records every `intervalMs` (waiting first, so a starting
 * process is not slowed down). Waiting goes through the clock, so unit tests drive it by hand.
 * A failed purge is logged and tried again at the next interval.
 */
export function startIdempotencyPurger(options: PurgerOptions): Purger {
  const { store, clock, intervalMs } = options;
  const logger = options.logger ?? silentLogger;
  const controller = new AbortController();
  const loop = (async () => {
    while (!controller.signal.aborted) {
      try {
        await clock.sleep(intervalMs, controller.signal);
      } catch {
        return;
      }
      try {
        const count = await store.purgeExpired(clock.now());
        options.onPurged?.(count);
        if (count > 0) logger.debug('idempotency: purged expired keys', { count });
      } catch (error) {
        logger.warn('idempotency: purge failed, will retry', { error });
      }
    }
  })();
  return {
    async stop() {
      controller.abort();
      await loop;
    },
  };
}
