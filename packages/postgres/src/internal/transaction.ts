import { HeraldError, type SqlTx } from '@herald/core';
import type { PoolClient } from 'pg';
import { isConnectionError, toStoreError } from '../errors.js';
import { cancelRunning, rollbackWithin, ROLLBACK_WAIT_MS } from './cancel.js';
import { commitBefore } from './commit.js';
import type { Db } from './db.js';
import { clientQuery, createTx, type TxState } from './txConnection.js';
import { flushDeferred } from './txStatements.js';

/**
 * BEGIN, `work(tx)`, COMMIT on one pooled connection (READ COMMITTED, PostgreSQL's default);
 * ROLLBACK when `work` rejects. Settles only after the commit or rollback. Errors from statements
 * are mapped by {@link toStoreError} (retriable for conflicts and lost connections). PostgreSQL aborts
 * a transaction at its first failed statement: if `work` swallowed such an error and resolved, the
 * COMMIT turns into a rollback and this rejects rather than report a commit that did not happen.
 * A connection lost during COMMIT rejects with a retriable error whose `details.commitOutcome` is
 * `unknown`: the transaction may have committed (the inbox and idempotency keys absorb a rerun).
 * `transactionTimeoutMs` bounds the whole transaction, the writes deferred to commit and COMMIT
 * included. `work` (or a deferred write) still running after it is no longer waited for: the
 * transaction rolls back and rejects with a retriable `timeout`. A COMMIT still running after it
 * rejects with a retriable `timeout` whose `details.commitOutcome` is `unknown`, its connection
 * discarded. Whenever the transaction rolls back while one of its statements is still running
 * (work that failed or was abandoned while a batch-mate's statement waits on a lock, or sleeps),
 * that statement is cancelled first: the ROLLBACK would otherwise wait behind it, keeping the
 * transaction's locks. A connection that failed, or reached a server refusing writes (a standby),
 * is discarded, not handed to the next transaction. `close()` waits for the transaction.
 */
export function runTransaction<T>(db: Db, onCommitted: (appended: boolean) => void, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  return runOnPool(db, work, { onCommitted, readOnly: false });
}

/**
 * A read-only transaction (`ReadTransactions.read`), as {@link runTransaction} runs one but begun
 * with `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`: every statement reads the snapshot its
 * first statement took, and the server refuses writes (25006, which here is the caller's
 * `read-only-transaction`, the connection kept). What it read was committed, so it is durable.
 */
export function runRead<T>(db: Db, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  return runOnPool(db, work, { onCommitted: () => {}, readOnly: true });
}

interface RunOptions {
  readonly onCommitted: (appended: boolean) => void;
  readonly readOnly: boolean;
}

async function runOnPool<T>(db: Db, work: (tx: SqlTx) => Promise<T>, options: RunOptions): Promise<T> {
  db.assertOpen();
  return db.inFlight(async () => {
    await db.ready();
    let client: PoolClient;
    try {
      client = await db.pool.connect();
    } catch (error) {
      throw toStoreError(error, 'pgStores: connect');
    }
    return runOn(db, client, work, options);
  });
}

async function runOn<T>(db: Db, client: PoolClient, work: (tx: SqlTx) => Promise<T>, { onCommitted, readOnly }: RunOptions): Promise<T> {
  const state: TxState = { client, readOnly, open: true, appended: false, running: 0 };
  let broken = false;
  // a checked-out client that loses its connection emits 'error'; the pending query rejects too
  const onClientError = () => (broken = true);
  client.on('error', onClientError);
  try {
    await clientQuery(state, 'begin', { text: readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN' });
    let result: T;
    const deadline = db.transactions.watch();
    try {
      result = await Promise.race([work(createTx(state)), deadline.expired]);
      // the writes deferred to commit are the transaction's own: its deadline still runs
      await Promise.race([flushDeferred(state), deadline.expired]);
    } catch (error) {
      state.open = false;
      deadline.end();
      if (state.running > 0 && !(await cancelRunning(db, client))) broken = true;
      // a connection whose statement could not be cancelled is discarded (below), not waited for:
      // the server rolls back when it notices; else ROLLBACK, bounded all the same
      if (!broken && !(await rollbackWithin(client, ROLLBACK_WAIT_MS))) broken = true;
      // the first failure decides too: work may have rethrown it wrapped, or thrown something else
      if (discardsConnection(error) || discardsConnection(state.failure)) broken = true;
      throw error;
    }
    state.open = false;
    try {
      await commitBefore(client, state.failure, deadline, db.transactions.timeoutMs);
    } finally {
      deadline.end();
    }
    onCommitted(state.appended);
    return result;
  } catch (error) {
    if (discardsConnection(error)) broken = true;
    throw error;
  } finally {
    state.open = false;
    client.removeListener('error', onClientError);
    // a connection in an unknown state is discarded, not handed to the next transaction
    client.release(broken);
  }
}

/**
 * Whether the connection that raised `error` must not serve another transaction: it is broken, it
 * leads to a server refusing writes (see {@link isConnectionError}), or a COMMIT of unknown
 * outcome may still be running on it.
 */
function discardsConnection(error: unknown): boolean {
  if (!(error instanceof HeraldError)) return false;
  return isConnectionError(error) || error.details?.commitOutcome === 'unknown';
}
