import type Database from 'better-sqlite3';
import { ErrorCodes, HeraldError } from '@herald/core';
import { isBusyError } from '../internal/database.js';
import { conflict, createStepLog } from './stepLog.js';

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
  /** Runs a statement that returns no rows; returns how many rows it changed. */
  run(stmt: Database.Statement<unknown[]>, args: readonly unknown[]): number;
  all<Row>(stmt: Database.Statement<unknown[], Row>, args: readonly unknown[]): Row[];
  get<Row>(stmt: Database.Statement<unknown[], Row>, args: readonly unknown[]): Row | undefined;
}

export interface TxRunner {
  /**
   * Runs `work` as one logical transaction; settles once it is durable (see {@link Durable}).
   */
  run<T>(work: (scope: TxScope) => Promise<T> | T, options?: { durable?: Durable }): Promise<T>;
  /** Waits for queued and running transactions, then refuses new ones. */
  close(): Promise<void>;
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

export interface TxRunnerDeps {
  readonly db: Database.Database;
  /** Most logical transactions open in one physical transaction. */
  readonly maxBatch: number;
  /** A logical transaction still running after this long fails and is rolled back. */
  readonly transactionTimeoutMs: number;
  /** Resolves once what was committed is on disk (see `createWalSync`). */
  readonly durable: () => Promise<void>;
  /** Resolves once the fsyncs already under way are done (for transactions that wrote nothing). */
  readonly flushed: () => Promise<void>;
  /** After each commit, once it is durable, with the scopes that committed. */
  readonly committed: (scopes: readonly TxScope[]) => void;
}

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
  /** The transaction it was running in is gone for good: it fails with this. */
  fatal?: unknown;
  value?: unknown;
  error?: unknown;
}

/** How long a finished transaction may wait for slower ones before it is committed without them. */
const SPLIT_AFTER_MS = 5;
/** Runs of one work function before a conflict is reported to the caller instead of retried. */
const MAX_RUNS = 4;

/**
 * Group commit for application transactions, with concurrency. SQLite has one writer, so one
 * physical transaction (`BEGIN IMMEDIATE ... COMMIT`, one fsync) carries many logical
 * transactions, and their work functions run concurrently: each statement executes at once on the
 * shared connection, so concurrent transactions see each other's writes as they happen. Every
 * promise settles after the COMMIT that made its transaction durable.
 *
 * Fast path: when every admitted transaction has finished and none failed, one COMMIT makes them
 * all durable. Otherwise (a transaction failed, or finished ones have waited {@link SPLIT_AFTER_MS}
 * for slow ones) the statement log is used: the physical transaction is rolled back, the finished
 * transactions' statements are replayed in their original order and committed, then the still
 * running ones' statements are replayed into a new physical transaction, where they carry on.
 * Each replayed statement must return what it returned the first time; a transaction for which
 * one does not had read writes that are not (or not yet) committed, so its work runs again, as a
 * database retries after a serialization failure; after {@link MAX_RUNS} runs it fails with a
 * retriable `transaction-conflict`. So a failed transaction leaves no trace, nothing commits having
 * seen uncommitted writes, and a slow transaction delays the others by at most a few ms. A work
 * function may therefore run more than once: only its transactional writes count.
 *
 * A transaction started from inside another one's work is a separate transaction: it commits on
 * its own, as on a second connection. If it reads the outer one's uncommitted writes it must wait
 * for the outer one to finish, which waits for it: that deadlock ends at `transactionTimeoutMs`
 * (as it would on PostgreSQL with two connections, where it would not end). Use the `tx` you
 * were given.
 */
export function createTxRunner(deps: TxRunnerDeps): TxRunner {
  const { db } = deps;
  const log = createStepLog(db);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commitStmt = db.prepare('COMMIT');
  const queue: Member[] = [];
  let members: Member[] = [];
  let running = 0;
  let pumping = false;
  let scheduled = false;
  let closed = false;
  let splitTimer: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let idle: (() => void) | undefined;
  const syncing = new Set<Promise<void>>();

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(pump);
  }

  function pump(): void {
    scheduled = false;
    if (queue.length === 0 || members.length >= deps.maxBatch) return;
    if (!db.inTransaction) {
      try {
        begin.run();
      } catch (error) {
        const failure = wrap(error);
        for (const member of queue.splice(0, deps.maxBatch)) member.reject(failure);
        if (queue.length > 0) schedule();
        return;
      }
    }
    pumping = true;
    while (queue.length > 0 && members.length < deps.maxBatch) {
      const member = queue.shift()!;
      members.push(member);
      start(member);
    }
    pumping = false;
    settled();
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
    if (member.fatal !== undefined) {
      ok = false;
      outcome = member.fatal;
    } else if (member.doomed) {
      if (member.runs < MAX_RUNS) {
        // its reads were invalidated by a replay: run it again against the current state
        log.drop([member]);
        start(member);
        return;
      }
      ok = false;
      outcome = conflict();
    }
    member.state = ok ? 'done' : 'failed';
    if (ok) member.value = outcome;
    else member.error = outcome;
    if (!pumping) settled();
  }

  function unblocked(member: Member): boolean {
    return !member.blockers?.some((blocker) => blocker.state === 'running');
  }

  function doom(member: Member): void {
    member.doomed = true;
    member.scope.active = false;
  }

  /** Decides what to do after members finished: commit now, later, or nothing yet. */
  function settled(): void {
    if (members.length === 0) return;
    if (running === 0) return commitPoint();
    splitTimer ??= setTimeout(commitPoint, SPLIT_AFTER_MS);
  }

  function timeOut(): void {
    const now = Date.now();
    for (const member of members) {
      if (member.state === 'running' && now - member.startedAt > deps.transactionTimeoutMs) {
        const error = new HeraldError(ErrorCodes.timeout, `transaction did not finish within ${deps.transactionTimeoutMs} ms; rolled back`, { retriable: true });
        finishRun(member, member.scope, false, error);
      }
    }
  }

  /** Makes the finished members durable (and drops the failed ones), keeping running ones going. */
  function commitPoint(): void {
    clearTimeout(splitTimer);
    splitTimer = undefined;
    const finished = members.filter((m) => m.state === 'done' || m.state === 'failed');
    const still = members.filter((m) => m.state === 'running');
    const waiting = members.filter((m) => m.state === 'waiting');
    if (finished.length === 0 && !waiting.some(unblocked)) return;
    let failure: unknown;
    let rerun: Member[] = [];
    try {
      if (!db.inTransaction) throw new HeraldError('transaction-aborted', 'SQLite aborted the transaction (disk full or I/O error?)', { retriable: true });
      const fast = still.length === 0 && finished.every((m) => m.state === 'done');
      if (!fast) rerun = log.replay(finished.filter((m) => m.state === 'done'));
      commitStmt.run();
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      failure = wrap(error);
    }
    log.drop(finished);
    if (failure !== undefined) rerun = [];
    acknowledge(
      finished.filter((m) => !rerun.includes(m)),
      failure,
    );
    for (const member of rerun) {
      // it read writes of transactions still running: like a row lock, wait for them to finish
      member.state = 'waiting';
      member.blockers = still;
    }
    members = [...still, ...waiting, ...rerun];
    if (members.length > 0) {
      resume(still, failure);
      if (members.some((m) => m.state !== 'running')) settled();
    } else {
      clearInterval(watchdog);
      watchdog = undefined;
      log.clear();
    }
    if (queue.length > 0) schedule();
    else if (members.length === 0 && syncing.size === 0) idle?.();
  }

  /**
   * Settles finished members: failed ones at once, committed ones once their commit is durable
   * (the fsync runs off the event loop while the next transactions already run).
   */
  function acknowledge(finished: readonly Member[], failure: unknown): void {
    const own: Member[] = [];
    const prior: Member[] = [];
    for (const member of finished) {
      if (member.state === 'failed') member.reject(member.error);
      else if (failure !== undefined) member.reject(failure);
      else if (member.durable === 'none') member.resolve(member.value);
      else if (member.durable === 'own' && member.scope.wrote) own.push(member);
      else prior.push(member); // it may have read commits whose fsync is still under way
    }
    // `own` first: its fsync request is then among those `prior` waits for
    if (own.length > 0) track(settleAfter(deps.durable(), own));
    if (prior.length > 0) track(settleAfter(deps.flushed(), prior));
  }

  function settleAfter(disk: Promise<void>, settled: readonly Member[]): Promise<void> {
    return disk.then(
      () => {
        deps.committed(settled.map((m) => m.scope));
        for (const member of settled) member.resolve(member.value);
      },
      (cause: unknown) => {
        const error = new HeraldError('store-unavailable', 'stores: fsync of the committed transactions failed; they may or may not be on disk', { retriable: true, cause });
        for (const member of settled) member.reject(error);
      },
    );
  }

  function track(done: Promise<void>): void {
    syncing.add(done);
    void done.finally(() => {
      syncing.delete(done);
      if (syncing.size === 0 && members.length === 0 && queue.length === 0) idle?.();
    });
  }

  /** Opens the next physical transaction for members still running, and restarts unblocked waiters. */
  function resume(still: readonly Member[], failure: unknown): void {
    try {
      if (failure !== undefined) throw failure;
      for (const member of log.replay(still.filter((m) => !m.doomed))) doom(member);
    } catch (error) {
      // no transaction to carry on in: the running members fail as they finish, the waiting ones now
      const fatal = wrap(error);
      for (const member of still) {
        member.fatal = fatal;
        member.scope.active = false;
      }
      for (const member of members) if (member.state === 'waiting') member.reject(fatal);
      members = [...still];
      return;
    }
    pumping = true;
    for (const member of members) if (member.state === 'waiting' && unblocked(member)) start(member);
    pumping = false;
  }

  return {
    run<T>(work: (scope: TxScope) => Promise<T> | T, options?: { durable?: Durable }): Promise<T> {
      if (closed) return Promise.reject(new HeraldError(ErrorCodes.closed, 'stores: closed'));
      const durable = options?.durable ?? 'own';
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject, durable, scope: undefined!, runs: 0, startedAt: 0, state: 'running', doomed: false });
        schedule();
      });
    },
    async close() {
      closed = true;
      if (members.length > 0 || queue.length > 0 || syncing.size > 0) await new Promise<void>((resolve) => (idle = resolve));
    },
  };
}

function wrap(error: unknown): unknown {
  if (isBusyError(error)) {
    return new HeraldError('store-busy', 'stores: the SQLite file stayed locked by another process past busyTimeoutMs', { retriable: true, cause: error });
  }
  return error;
}
