import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError } from '@herald/core';
import { isBusyError, toStoreError } from '../internal/storeErrors.js';
import { createAcknowledgements } from './acknowledge.js';
import { conflict, createStepLog } from './stepLog.js';
import type { Durable, Member, TxScope } from './txTypes.js';
import { createWriteLock } from './writeLock.js';

export type { Durable, Member, TxScope } from './txTypes.js';

export interface TxRunner {
  /** Runs `work` as one logical transaction; settles once it is durable (see {@link Durable}). */
  run<T>(work: (scope: TxScope) => Promise<T> | T, options?: { durable?: Durable }): Promise<T>;
  /** Waits for queued and running transactions, then refuses new ones. */
  close(): Promise<void>;
}

export interface TxRunnerDeps {
  readonly db: Database.Database;
  /** Most logical transactions running or awaiting commit at once. */
  readonly maxBatch: number;
  /** A logical transaction still running after this long fails and is rolled back. */
  readonly transactionTimeoutMs: number;
  /**
   * How long work waits for another connection's write lock before it fails with `store-busy`. The
   * runner tries the lock without SQLite's busy handler: `db`'s busy timeout is set to 0 for good
   * when the runner is created (see {@link createTxRunner}).
   */
  readonly busyTimeoutMs: number;
  /** Resolves once what was committed is on disk (see `createWalSync`). */
  readonly durable: () => Promise<void>;
  /** Resolves once what transactions read is on disk: the fsyncs already under way, or one more when another connection committed. */
  readonly flushed: () => Promise<void>;
  /** After each commit, once it is durable, with the scopes that committed. */
  readonly committed: (scopes: readonly TxScope[]) => void;
}

/** Longest the write lock stays held while transactions are still running (then commit or yield). */
const HOLD_MS = 5;
/** Runs of one work function before a conflict is reported to the caller instead of retried. */
const MAX_RUNS = 4;

/**
 * Group commit for application transactions, with concurrency. SQLite has one writer, so one
 * physical transaction (`BEGIN IMMEDIATE ... COMMIT`, one fsync) carries many logical
 * transactions, and their work functions run concurrently: each statement executes at once on the
 * shared connection (concurrent transactions see each other's writes as they happen) and is
 * recorded in a statement log.
 *
 * Fast path: when every running transaction has finished and none failed, one COMMIT makes them
 * all durable. Otherwise, at most {@link HOLD_MS} after the write lock was taken, the log is used:
 * the physical transaction is rolled back, the finished transactions' statements are replayed in
 * their original order and committed, and the write lock is released. Transactions still running
 * get a new physical transaction, with their statements replayed into it, when they next run a
 * statement (or when new transactions arrive), so one awaiting slow I/O holds no lock: other
 * processes sharing the file can write, and nothing here waits for it but its own commit.
 *
 * Each replayed statement must return what it returned the first time. A transaction for which
 * one does not had read writes that are not (or not yet) committed: its work runs again, once the
 * transactions that were running then have finished (as a database makes it wait on their row
 * locks, then retries after the serialization failure); after {@link MAX_RUNS} runs it fails with a
 * retriable `transaction-conflict`. So a failed transaction leaves no trace and nothing commits
 * having seen uncommitted writes. A work function may run more than once: only its transactional
 * writes count. SQL that answers differently on each run (`random()`, a clock default returned by
 * `RETURNING`) diverges on every replay, so a transaction using it fails whenever its work awaits
 * past {@link HOLD_MS}, even alone: the error then names the statement (see `conflict`). The lock
 * is yielded all the same, as nothing tells whether another process waits for it.
 *
 * A transaction started from inside another one's work is a separate transaction: it commits on
 * its own, as on a second connection. If it reads the outer one's uncommitted writes it waits for
 * the outer one, which waits for it: that deadlock ends at `transactionTimeoutMs`. Use the `tx`
 * you were given.
 *
 * While another connection holds the write lock (another process, an operator's shell), nothing
 * waits on the app's thread: transactions start, statements run after an await (see
 * `TxScope.lock`) and finished transactions commit once the runner has the lock again, which it
 * tries from the event loop; after `busyTimeoutMs` what waits for it fails with `store-busy`.
 */
export function createTxRunner(deps: TxRunnerDeps): TxRunner {
  const { db } = deps;
  const queue: Member[] = [];
  let members: Member[] = [];
  let running = 0;
  let pumping = false;
  let scheduled = false;
  let closed = false;
  let holdTimer: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let idle: (() => void) | undefined;
  /** SQLite's failures as the stores report them (see `toStoreError`): busy past the wait is `store-busy`. */
  const wrap = (error: unknown) => toStoreError(error, { path: db.name, context: 'stores' });
  const writeLock = createWriteLock({
    db,
    busyTimeoutMs: deps.busyTimeoutMs,
    open: ensureTransaction,
    wrap,
    needed: () => queue.length > 0 || members.some((m) => m.state === 'done' || ready(m)),
    acquired: pump,
    failed: failWaiting,
  });
  const acks = createAcknowledgements({
    path: db.name,
    durable: deps.durable,
    flushed: deps.flushed,
    committed: deps.committed,
    drained: () => {
      if (members.length === 0 && queue.length === 0) idle?.();
    },
  });
  const log = createStepLog(db, { ensure: writeLock.ensure, lock: writeLock.lock });
  const commitStmt = db.prepare('COMMIT');
  // No busy handler from now on: it sleeps on this thread, so while another process held the write
  // lock the whole event loop stalled (heartbeats missed, partitions moved). `BEGIN IMMEDIATE` fails
  // at once instead and the runner tries again from the event loop (see `createWriteLock`), as the
  // log's write queue does. Nothing else on this connection waits for a lock: in WAL mode COMMIT
  // needs none beyond the one BEGIN IMMEDIATE took, and reads wait only for a crash recovery, which
  // happens when the file is opened, before the runner exists.
  db.pragma('busy_timeout = 0');

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(pump);
  }

  /** Starts queued members, and members waiting to run again, once the write lock is ours (their work may run statements at once). */
  function pump(): void {
    scheduled = false;
    const again = members.filter(ready);
    if ((again.length > 0 || (queue.length > 0 && members.length < deps.maxBatch)) && writeLock.take()) {
      pumping = true;
      for (const member of again) start(member);
      while (queue.length > 0 && members.length < deps.maxBatch) {
        const member = queue.shift()!;
        members.push(member);
        start(member);
      }
      pumping = false;
    }
    settled();
  }

  /**
   * Opens a physical transaction holding the writes of every member not yet committed (replaying
   * them), so an open transaction always holds exactly those: the fast path relies on it. Throws
   * SQLite's error as is (a busy one when another connection holds the write lock).
   */
  function ensureTransaction(): void {
    if (db.inTransaction) return;
    const live = members.filter((m) => m.state === 'done' || (m.state === 'running' && !m.doomed));
    let diverged: Member[];
    try {
      diverged = log.replay(live);
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
    const stillRunning = live.filter((m) => m.state === 'running' && !diverged.includes(m));
    for (const member of diverged) {
      if (member.state === 'running') {
        member.doomed = true;
        member.scope.active = false;
      } else {
        log.drop([member]);
        member.state = 'waiting';
        member.blockers = stillRunning;
      }
    }
    holdTimer ??= setTimeout(commitPoint, HOLD_MS);
  }

  /** The write lock stayed taken past busyTimeoutMs: the members waiting for it fail with `store-busy`. */
  function failWaiting(error: unknown): void {
    const failed = [...members.filter((m) => m.state === 'done' || ready(m)), ...queue.splice(0)];
    log.drop(failed);
    members = members.filter((m) => !failed.includes(m));
    for (const member of failed) member.reject(error);
    tidy();
  }

  /** Runs (or runs again) a member's work with a fresh scope. */
  function start(member: Member): void {
    const scope = log.scope(member);
    member.scope = scope;
    member.runs++;
    member.startedAt = Date.now();
    member.state = 'running';
    member.doomed = false;
    running++;
    watchdog ??= setInterval(timeOut, Math.min(1000, deps.transactionTimeoutMs / 4)).unref();
    let result: unknown;
    try {
      result = member.work(scope);
    } catch (error) {
      finishRun(member, scope, false, error);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => finishRun(member, scope, true, value),
        (error: unknown) => finishRun(member, scope, false, error),
      );
    } else {
      finishRun(member, scope, true, result);
    }
  }

  function finishRun(member: Member, scope: TxScope, ok: boolean, outcome: unknown): void {
    if (member.state !== 'running' || scope !== member.scope) return;
    scope.active = false;
    running--;
    if (member.broke !== undefined) {
      ok = false;
      outcome = member.broke;
    } else if (member.doomed) {
      if (member.runs < MAX_RUNS) {
        // its reads were invalidated by a replay: run it again against the current state, once
        // the write lock is ours (its work may run statements at once)
        log.drop([member]);
        member.state = 'waiting';
        member.blockers = undefined;
        schedule();
        if (!pumping) settled();
        return;
      }
      ok = false;
      outcome = conflict(member);
    }
    member.state = ok ? 'done' : 'failed';
    if (ok) member.value = outcome;
    else member.error = outcome;
    if (!pumping) settled();
  }

  /** After members finished: commit now if nobody runs, else within HOLD_MS. */
  function settled(): void {
    if (members.length === 0) return;
    if (running === 0) return commitPoint();
    holdTimer ??= setTimeout(commitPoint, HOLD_MS);
  }

  function timeOut(): void {
    const now = Date.now();
    for (const member of members) {
      if (member.state === 'running' && now - member.startedAt > deps.transactionTimeoutMs) {
        const error = new HeraldError(CoreErrors.timeout, `transaction did not finish within ${deps.transactionTimeoutMs} ms; rolled back`, { retriable: true });
        finishRun(member, member.scope, false, error);
      }
    }
  }

  /** A member waiting to run again whose blockers have finished. */
  function ready(member: Member): boolean {
    return member.state === 'waiting' && !member.blockers?.some((blocker) => blocker.state === 'running');
  }

  /**
   * Commits the finished members (dropping the failed ones) and releases the write lock. While
   * another connection holds the lock the finished members wait for it (failed ones settle at once).
   */
  function commitPoint(): void {
    clearTimeout(holdTimer);
    holdTimer = undefined;
    const failed = members.filter((m) => m.state === 'failed');
    const done = members.filter((m) => m.state === 'done');
    const still = members.filter((m) => m.state === 'running');
    let failure: unknown;
    let rerun: Member[] = [];
    let deferred = done.length > 0 && writeLock.waiting;
    if (done.length > 0 && !deferred) {
      try {
        const fast = db.inTransaction && still.length === 0 && failed.length === 0;
        if (!fast) rerun = log.replay(done);
        commitStmt.run();
      } catch (error) {
        rerun = [];
        if (isBusyError(error)) deferred = true;
        else failure = wrap(error);
      }
    }
    // yield the write lock: running members replay their writes when they next need it
    if (db.inTransaction) db.exec('ROLLBACK');
    const finished = deferred ? failed : [...failed, ...done];
    log.drop(finished);
    acks.acknowledge(finished.filter((m) => !rerun.includes(m)), failure);
    for (const member of rerun) {
      member.state = 'waiting';
      member.blockers = still;
    }
    members = members.filter((m) => m.state === 'running' || m.state === 'waiting' || (deferred && m.state === 'done'));
    if (deferred) writeLock.wait();
    tidy();
  }

  /** After members left: forget the statement log when none is left, start those ready, report idleness. */
  function tidy(): void {
    if (members.length === 0) {
      clearInterval(watchdog);
      watchdog = undefined;
      log.clear();
    }
    // while the lock is another connection's, the write lock runs pump once it is ours
    if (!writeLock.waiting && (queue.length > 0 || members.some(ready))) schedule();
    else if (members.length === 0 && queue.length === 0 && !acks.syncing) idle?.();
  }

  return {
    run<T>(work: (scope: TxScope) => Promise<T> | T, options?: { durable?: Durable }): Promise<T> {
      if (closed) return Promise.reject(new HeraldError(CoreErrors.closed, 'stores: closed'));
      const durable = options?.durable ?? 'own';
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject, durable, scope: undefined!, runs: 0, startedAt: 0, state: 'running', doomed: false });
        schedule();
      });
    },
    async close() {
      closed = true;
      if (members.length > 0 || queue.length > 0 || acks.syncing) await new Promise<void>((resolve) => (idle = resolve));
    },
  };
}
