/** What one retention sweep deleted, per kind of row. */
export interface RetentionSweepResult {
  /** Published outbox records past their retention. */
  readonly outbox: number;
  /** Inbox marks past their retention (duplicates older than that are no longer recognised). */
  readonly inbox: number;
  /** Resolved (redriven or discarded) dead letters past their retention. */
  readonly deadLetters: number;
  /** Expired idempotency records. */
  readonly idempotency: number;
  /**
   * Saga instances past their retention (by their last save, `updatedAt`): finished ones (status
   * `completed` or `failed`, which includes an instance whose start event never came within the
   * saga's `awaitStartMs`). A `running` or `awaiting-start` instance is never deleted, however old
   * (it holds events already taken). A late event of a deleted instance is then taken as the first
   * of a new one.
   */
  readonly sagas: number;
}

/**
 * Optional ability of the stores: deleting what is kept only for a while. Engines run it on their
 * own timer; this runs a sweep now (tools, tests). Dead and parked dead letters, and running saga
 * instances, are never deleted.
 */
export interface RetentionSweep {
  sweepRetention(): Promise<RetentionSweepResult>;
}

export function canSweepRetention<S extends object>(stores: S): stores is S & RetentionSweep {
  return typeof (stores as Partial<RetentionSweep>).sweepRetention === 'function';
}
