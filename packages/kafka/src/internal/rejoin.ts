import type { Clock, Logger } from '@herald/core';

/**
 * Longest pause between two rejoins after a crash. A join refused for good (GROUP_AUTHORIZATION_FAILED,
 * INCONSISTENT_GROUP_PROTOCOL) is retried forever, since the member may not silently stop; the cap
 * keeps that to a few connects a minute per member instead of a flood on the brokers and the log.
 */
export const REJOIN_BACKOFF_MAX_MS = 30_000;

export interface RejoinDeps {
  /** The first pause; each failed attempt doubles it, up to {@link REJOIN_BACKOFF_MAX_MS}. */
  readonly firstDelayMs: number;
  readonly clock: Clock;
  /** Aborted when the member starts closing: a pause ends at once. */
  readonly stopping: AbortSignal;
  readonly closing: () => boolean;
  readonly logger: Logger;
  /** Forgets the crashed membership and revokes its partitions; awaited before reconnecting. */
  readonly leaveMembership: () => Promise<void>;
  /** Leaves, connects, subscribes and runs the consumer again; a throw counts as a failed attempt. */
  readonly reconnect: () => Promise<void>;
}

export interface Rejoiner {
  /** Starts a rejoin, or asks the one under way for another attempt once it ends. Never rejects. */
  rejoin(): Promise<void>;
  /** A join came: says so when it ended a run of rejoins, and the next crash starts from the first pause. */
  joined(): void;
  /** The rejoin under way, if any. */
  pending(): Promise<void> | undefined;
}

/**
 * Rejoins a consumer group after a crash kafkajs does not recover from, pausing before every
 * attempt. Only a join ends the run of attempts: a join kafkajs refuses does not throw out of
 * `run`, it crashes again, and that crash asks for one more attempt (`rejoin` while one is under way).
 */
export function createRejoiner(deps: RejoinDeps): Rejoiner {
  const { logger: log } = deps;
  let rejoining: Promise<void> | undefined;
  /** A crash arrived while a rejoin was under way (its own join can crash): rejoin once more after it. */
  let crashedWhileRejoining = false;
  /** Attempts since the last join, across rejoin calls, so only a join resets the backoff. */
  let attempts = 0;

  function rejoin(): Promise<void> {
    if (rejoining) {
      crashedWhileRejoining = true;
      return rejoining;
    }
    rejoining = (async () => {
      do {
        crashedWhileRejoining = false;
        await attempt(++attempts);
        // a refused join crashed while `run` ran: try again, after a longer pause
      } while (crashedWhileRejoining && !deps.closing());
    })()
      // nothing awaits a rejoin started by a crash: a failure must end here, logged, not unhandled
      .catch((error: unknown) => log.error('kafka: rejoining the group after a crash failed; the member stays out of the group', { error }))
      .finally(() => {
        rejoining = undefined;
        if (crashedWhileRejoining && !deps.closing()) {
          crashedWhileRejoining = false;
          void rejoin();
        }
      });
    return rejoining;
  }

  async function attempt(n: number): Promise<void> {
    const delayMs = Math.min(REJOIN_BACKOFF_MAX_MS, deps.firstDelayMs * 2 ** (n - 1));
    if (n > 1) log.warn('kafka: rejoining the group failed; trying again', { attempt: n, delayMs });
    await deps.clock.sleep(delayMs, deps.stopping).catch(() => {});
    if (deps.closing()) return;
    await deps.leaveMembership();
    try {
      await deps.reconnect();
    } catch (error) {
      log.error('kafka: rejoining the group failed', { error, attempt: n });
      crashedWhileRejoining = true;
    }
  }

  return {
    rejoin,
    joined() {
      if (attempts > 0) log.warn('kafka: rejoined the group after a crash', { attempts });
      attempts = 0;
    },
    pending: () => rejoining,
  };
}
