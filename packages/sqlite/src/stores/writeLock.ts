import type Database from 'better-sqlite3';
import { isBusyError } from '../internal/storeErrors.js';

/** What the write lock asks of the transaction runner, which owns the physical transaction. */
export interface WriteLockDeps {
  readonly db: Database.Database;
  /** How long work waits for another connection's write lock before it fails with `store-busy`. */
  readonly busyTimeoutMs: number;
  /** Opens the physical transaction (`BEGIN IMMEDIATE` and a replay); throws SQLite's error as is. */
  readonly open: () => void;
  /** SQLite's failures as the stores report them: busy past the wait is `store-busy`. */
  readonly wrap: (error: unknown) => unknown;
  /** Whether members still need the lock: queued ones, finished ones, ones ready to run again. */
  readonly needed: () => boolean;
  /** The lock is the runner's again (statements waiting for it already resumed): start what waits. */
  readonly acquired: () => void;
  /** The lock stayed taken past `busyTimeoutMs` (waiting statements already failed): fail the members waiting for it. */
  readonly failed: (error: unknown) => void;
}

/** The runner's ways to the write lock, which it takes without SQLite's busy handler. */
export interface WriteLock {
  /** While another connection holds the write lock: the runner is waiting for it (a retry is scheduled). */
  readonly waiting: boolean;
  /**
   * Opens the physical transaction unless it is open. False while another connection holds the
   * write lock: it is then tried again from the event loop, and `acquired` runs once it is the
   * runner's. Any other failure is left to the statements, which report it.
   */
  readonly take: () => boolean;
  /** Before a statement of a running member: undefined when it may run now, else settles once the write lock is ours again (see `TxScope.lock`). */
  readonly lock: () => Promise<void> | undefined;
  /** For a statement run with no physical transaction open and no wait for it (see `lock`): opens one, or throws `store-busy` at once. */
  readonly ensure: () => void;
  /** Starts waiting for the lock (a COMMIT found it taken), unless already waiting. */
  readonly wait: () => void;
}

/**
 * Waiting for SQLite's write lock from the event loop. `BEGIN IMMEDIATE` with no busy handler
 * fails at once while another connection (another process, an operator's shell) holds the lock;
 * the lock is then tried again, at once a few times and then every millisecond, so nothing waits
 * on the app's thread. After `busyTimeoutMs` what waits for it fails with `store-busy`.
 */
export function createWriteLock(deps: WriteLockDeps): WriteLock {
  const { db } = deps;
  /** While another connection holds the write lock: when the runner began waiting, and its attempts so far (a retry is scheduled). */
  let locked: { since: number; attempts: number } | undefined;
  /** Statements of running members waiting for the write lock (see `lock`). */
  const waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];

  function take(): boolean {
    if (db.inTransaction) return true;
    if (locked) return false;
    try {
      deps.open();
    } catch (error) {
      if (!isBusyError(error)) return true;
      wait();
      return false;
    }
    return true;
  }

  function lock(): Promise<void> | undefined {
    if (take()) return undefined;
    return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
  }

  function ensure(): void {
    try {
      deps.open();
    } catch (error) {
      throw deps.wrap(error);
    }
  }

  function wait(): void {
    if (locked) return;
    locked = { since: performance.now(), attempts: 0 };
    retry();
  }

  function retry(): void {
    // the holder is often another connection's short transaction: look again at once a few times, then every millisecond
    if (++locked!.attempts <= 3) setImmediate(tick);
    else setTimeout(tick, 1);
  }

  function tick(): void {
    if (waiters.length === 0 && !deps.needed()) {
      locked = undefined; // nothing needs it any more
      return;
    }
    try {
      deps.open();
    } catch (error) {
      if (isBusyError(error)) {
        if (performance.now() - locked!.since < deps.busyTimeoutMs) return retry();
        locked = undefined;
        return fail(deps.wrap(error));
      }
      // any other failure is the statements' to report, as when the lock was free
    }
    locked = undefined;
    for (const waiter of waiters.splice(0)) waiter.resolve();
    deps.acquired();
  }

  /** The write lock stayed taken past busyTimeoutMs: whatever waits for it fails with `store-busy`. */
  function fail(error: unknown): void {
    for (const waiter of waiters.splice(0)) waiter.reject(error);
    deps.failed(error);
  }

  return {
    get waiting() {
      return locked !== undefined;
    },
    take,
    lock,
    ensure,
    wait,
  };
}
