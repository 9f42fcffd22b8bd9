import type { Consumer } from 'kafkajs';
import type { Logger } from '@herald/core';
import { withTimeout } from './deadline.js';

export interface CloseWaitDeps {
  readonly consumer: Consumer;
  readonly group: string;
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * Waits for a rejoin and the membership work (a placement's admin calls) at most `closeTimeoutMs`:
 * with brokers that stopped answering they can take minutes, and a SIGTERM'd service has a grace
 * period. What is cut short goes on by itself; the client is disconnected again once it ends, in
 * case a rejoin connected it after `close` disconnected it.
 */
export async function settleWithinCloseTimeout(pending: Promise<unknown>, deps: CloseWaitDeps): Promise<void> {
  const { consumer, group, closeTimeoutMs, logger: log } = deps;
  try {
    await withTimeout(pending, closeTimeoutMs, `finishing the membership work of group '${group}'`);
  } catch (error) {
    log.warn('kafka: closing without waiting for the rejoin or membership work still running; revoking and leaving now', { error });
    void pending
      .then(() => withTimeout(consumer.disconnect(), closeTimeoutMs, `leaving group '${group}'`))
      .catch((error: unknown) => log.warn('kafka: leaving the group after the cut-short work failed', { error }));
  }
}
