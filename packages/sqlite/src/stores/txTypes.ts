import type Database from 'better-sqlite3';

/**
 * One logical transaction while it runs. Every statement it makes goes through `run`/`all`/`get`,
 * which execute at once on the shared connection and are recorded (see `createStepLog`); the
 * handles check `active` on every use.
 */
export interface TxScope {
  active: boolean;
  /** Set by the outbox when the transaction appended records. */
  appended: boolean;
  /** Whether any of its statements changed the database. */
  wrote: boolean;
  /**
   * Call before running statements after an await: undefined when they may run at once; else a
   * promise that resolves once the write lock is this process's again (it was yielded while the
   * work awaited, and another connection took it) or rejects with `store-busy` after
   * `busyTimeoutMs`. Without it a statement would fail with `store-busy` at once in that case.
   */
  lock(): Promise<void> | undefined;
  /** Runs a statement that returns no rows; returns how many rows it changed. */
  run(stmt: Database.Statement<unknown[]>, args: readonly unknown[]): number;
  all<Row>(stmt: Database.Statement<unknown[], Row>, args: readonly unknown[]): Row[];
  get<Row>(stmt: Database.Statement<unknown[], Row>, args: readonly unknown[]): Row | undefined;
}

/**
 * When a committed transaction settles. `own` (default): once an fsync covering its commit is done.
 * `prior`: once the fsyncs already under way are done, so that everything it read is on disk, but
 * without waiting for its own writes (a relay claim: it must never hand out an outbox record whose
 * transaction could still vanish, but losing the claim itself is harmless). `none`: at COMMIT (for
 * writes whose loss in a power cut is harmless: marks, releases, retention). A transaction that
 * wrote nothing is treated as `prior`.
 */
export type Durable = 'own' | 'prior' | 'none';

/** A logical transaction, from the moment it is queued. */
export interface Member {
  readonly work: (scope: TxScope) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly durable: Durable;
  /** The scope of the current run (a re-run gets a fresh one; the old handles stay dead). */
  scope: TxScope;
  /** Runs of the work so far (more than one after conflicts). */
  runs: number;
  startedAt: number;
  /** `waiting`: it must run again, once the transactions whose writes it may have read finish. */
  state: 'running' | 'waiting' | 'done' | 'failed';
  /** While waiting: the members that were running when its reads were invalidated. */
  blockers?: readonly Member[];
  /** Its reads were invalidated while it ran: its statements now fail, and when it finishes it runs again. */
  doomed: boolean;
  /**
   * Set (with `doomed`) when one of its statements ended the physical transaction: it fails with
   * this error whatever its work returns, and does not run again.
   */
  broke?: unknown;
  /**
   * The last replay of it that diverged: the statement whose result changed, and whether nothing
   * but that SQL itself can explain it (no other transaction changed what it read).
   */
  divergence?: { readonly sql: string; readonly alone: boolean };
  value?: unknown;
  error?: unknown;
}
