import { recentIds } from './recentIds.js';

/** How a request's wait ended: its reply came (`answered`), or it timed out, was aborted or closed (`late`). */
export type WaitOutcome = 'late' | 'answered';

/** The requests waiting for their reply, and a bounded memory of how the settled ones ended. */
export interface PendingRequests<E> {
  /** The waits, by request id. */
  readonly waiting: Map<string, E>;
  /**
   * Ends the wait of `id` and remembers `outcome`: returns its entry, or undefined, remembering
   * nothing, when it no longer waits (a timeout or an abort after the reply must not relabel it
   * `late`, or a duplicate reply would be dropped as late).
   */
  settle(id: string, outcome: WaitOutcome): E | undefined;
  /** How the wait of `id` ended, while it is remembered. */
  outcomeOf(id: string): WaitOutcome | undefined;
}

/** A {@link PendingRequests} remembering the last `remembered` outcomes. */
export function pendingRequests<E>(remembered: number): PendingRequests<E> {
  const waiting = new Map<string, E>();
  const settled = recentIds<WaitOutcome>(remembered);
  return {
    waiting,
    settle(id, outcome) {
      const entry = waiting.get(id);
      if (entry === undefined) return undefined;
      waiting.delete(id);
      settled.add(id, outcome);
      return entry;
    },
    outcomeOf: (id) => settled.get(id),
  };
}
