import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import { ErrorCodes, HeraldError } from '@herald/core';
import { isBusyError } from '../internal/database.js';

/** One logical transaction while it runs: its handles check `active` on every use. */
export interface TxScope {
  active: boolean;
  /** Set by the outbox when the transaction appended records. */
  appended: boolean;
}

export interface TxRunner {
  /** Runs `work` as one logical transaction of the next batch; settles after the batch commits. */
  run<T>(work: (scope: TxScope) => Promise<T> | T): Promise<T>;
  /** Waits for queued transactions, then refuses new ones. */
  close(): Promise<void>;
}

export interface TxRunnerDeps {
  readonly db: Database.Database;
  /** Most logical transactions per batch (bounds the latency of the first one). */
  readonly maxBatch: number;
  /** A logical transaction still running after this long is rolled back and fails. */
  readonly transactionTimeoutMs: number;
  /** After each commit, with the scopes that committed. */
  readonly committed: (scopes: readonly TxScope[]) => void;
}

interface Pending {
  readonly work: (scope: TxScope) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly pending: Pending; readonly scope: TxScope } & ({ readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown });

/**
 * Group commit for application transactions. SQLite has one writer and better-sqlite3 is
 * synchronous, so logical transactions queue up; a batch runs them one after another inside one
 * `BEGIN IMMEDIATE ... COMMIT`, each in its own SAVEPOINT. A failing transaction is rolled back to
 * its savepoint and fails alone; the others commit together with one fsync, and every promise
 * settles only after that COMMIT. Transactions queued while a batch runs join it (up to
 * `maxBatch`).
 *
 * Calling `run` from inside a running transaction's work would wait for itself, so it throws a
 * `nested-transaction` error instead (use the `tx` you were given).
 */
export function createTxRunner(deps: TxRunnerDeps): TxRunner {
  const { db } = deps;
  const context = new AsyncLocalStorage<TxScope>();
  const s = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    savepoint: db.prepare('SAVEPOINT herald_tx'),
    release: db.prepare('RELEASE herald_tx'),
    rollbackTo: db.prepare('ROLLBACK TO herald_tx'),
  };
  const queue: Pending[] = [];
  let draining: Promise<void> | undefined;
  let closed = false;

  async function runOne(pending: Pending): Promise<Outcome> {
    const scope: TxScope = { active: true, appended: false };
    s.savepoint.run();
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = context.run(scope, () => pending.work(scope));
      const value = work instanceof Promise ? await withTimeout(work, (t) => (timer = t)) : work;
      scope.active = false;
      if (!db.inTransaction) throw new HeraldError('transaction-aborted', 'SQLite aborted the transaction', { retriable: true });
      s.release.run();
      return { pending, scope, ok: true, value };
    } catch (error) {
      scope.active = false;
      if (db.inTransaction) {
        s.rollbackTo.run();
        s.release.run();
      }
      return { pending, scope, ok: false, error };
    } finally {
      clearTimeout(timer);
    }
  }

  function withTimeout<T>(work: Promise<T>, keep: (timer: NodeJS.Timeout) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      keep(
        setTimeout(
          () => reject(new HeraldError(ErrorCodes.timeout, `transaction did not finish within ${deps.transactionTimeoutMs} ms; rolled back`, { retriable: true })),
          deps.transactionTimeoutMs,
        ),
      );
      work.then(resolve, reject);
    });
  }

  async function runBatch(): Promise<void> {
    try {
      s.begin.run();
    } catch (error) {
      const failure = wrap(error);
      for (const pending of queue.splice(0, deps.maxBatch)) pending.reject(failure);
      return;
    }
    const outcomes: Outcome[] = [];
    while (queue.length > 0 && outcomes.length < deps.maxBatch && db.inTransaction) {
      outcomes.push(await runOne(queue.shift()!));
    }
    let failure: unknown;
    try {
      if (!db.inTransaction) throw new HeraldError('transaction-aborted', 'SQLite aborted the batch transaction (disk full or I/O error?)', { retriable: true });
      s.commit.run();
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      failure = wrap(error);
    }
    if (failure === undefined) deps.committed(outcomes.filter((o) => o.ok).map((o) => o.scope));
    for (const o of outcomes) {
      if (!o.ok) o.pending.reject(o.error);
      else if (failure !== undefined) o.pending.reject(failure);
      else o.pending.resolve(o.value);
    }
  }

  function drain(): Promise<void> {
    draining ??= (async () => {
      // let the current turn's transactions queue up before the batch starts
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (queue.length > 0) await runBatch();
      draining = undefined;
    })();
    return draining;
  }

  return {
    run<T>(work: (scope: TxScope) => Promise<T> | T): Promise<T> {
      if (closed) return Promise.reject(new HeraldError(ErrorCodes.closed, 'stores: closed'));
      if (context.getStore()?.active) {
        return Promise.reject(
          new HeraldError(
            'nested-transaction',
            'stores: a transaction (or a store call that writes) was started from inside a running transaction; it would wait for itself. Use the tx you were given (ctx.tx, ctx.publish).',
          ),
        );
      }
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
        void drain();
      });
    },
    async close() {
      closed = true;
      while (draining) await draining;
    },
  };
}

function wrap(error: unknown): unknown {
  if (isBusyError(error)) {
    return new HeraldError('store-busy', 'stores: the SQLite file stayed locked by another process past busyTimeoutMs', { retriable: true, cause: error });
  }
  return error;
}
