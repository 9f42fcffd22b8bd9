import { createHash } from 'node:crypto';
import { CoreErrors, HeraldError, type SqlOptions, type SqlTx } from '@herald/core';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { PgErrorCodes, isConnectionError, isIdempotentDdl, toStoreError } from '../errors.js';
import { cancelRunning, rollbackWithin, ROLLBACK_WAIT_MS } from './cancel.js';
import type { Db, Statement } from './db.js';
import type { TransactionDeadline } from './transactionWatch.js';

/** What the stores know about a transaction handle they created. */
interface TxState {
  readonly client: PoolClient;
  open: boolean;
  /** Statements sent and not yet answered (work sharing the transaction may have one in flight when it fails). */
  running: number;
  /** Set by the outbox's append, so committed appends can wake in-process relays. */
  appended: boolean;
  /** The first statement failure, which aborted the transaction on the server. */
  failure?: HeraldError;
  /** The statement queued last: a connection runs one at a time, so concurrent callers wait in line. */
  tail?: Promise<unknown>;
  /** Writes deferred to the end of the transaction, by kind, run in order just before COMMIT. */
  deferred?: Map<string, { readonly items: unknown[]; readonly flush: (items: unknown[]) => Statement; readonly context: string }>;
  /** Groups of items waiting for the connection, by kind: each group becomes one statement. */
  coalescing?: Map<string, CoalescedGroup>;
}

interface CoalescedGroup {
  readonly items: unknown[];
  readonly waiters: { resolve(value: unknown): void; reject(error: unknown): void }[];
}

const states = new WeakMap<SqlTx, TxState>();

/**
 * Runs a statement inside `tx` and returns how many rows it changed. On a handle made by
 * {@link runTransaction} it goes straight to the pooled client (so named statements are prepared
 * once per connection); on any other `SqlTx` it falls back to the portable `execute`.
 */
export async function executeInTx(tx: SqlTx, context: string, statement: Statement): Promise<number> {
  const state = states.get(tx);
  if (!state) return tx.execute(statement.text, statement.values ?? []);
  const result = await clientQuery(state, context, statement);
  return result.rowCount ?? 0;
}

/**
 * Runs a statement inside `tx` and returns its result (rows and rowCount). On a handle made by
 * {@link runTransaction} it goes straight to the pooled client; on any other `SqlTx` it falls back
 * to the portable `query` (rowCount then is the number of rows returned).
 */
export async function queryInTx(tx: SqlTx, context: string, statement: Statement): Promise<QueryResult> {
  const state = states.get(tx);
  if (!state) {
    const rows = await tx.query(statement.text, statement.values ?? []);
    return { rows, rowCount: rows.length, command: '', oid: 0, fields: [] };
  }
  return clientQuery(state, context, statement);
}

/** Remembers that `tx` appended to the outbox (no-op for handles the stores did not create). */
export function noteAppended(tx: SqlTx): void {
  const state = states.get(tx);
  if (state) state.appended = true;
}

/**
 * Defers `items` to one statement run just before the transaction commits, together with every
 * item deferred under the same `kind` in this transaction, in the order given (one multi-row write
 * instead of one per call). Returns false, deferring nothing, when `tx` was not made by
 * {@link runTransaction}: the caller then writes at once. A failure of the deferred statement rolls
 * the transaction back and rejects it like a failed statement in `work`.
 */
export function deferToCommit<I>(tx: SqlTx, kind: string, context: string, items: readonly I[], flush: (items: I[]) => Statement): boolean {
  const state = states.get(tx);
  if (!state) return false;
  if (!state.open) throw new HeraldError(CoreErrors.closed, `pgStores: ${context} on a transaction that already finished`);
  state.deferred ??= new Map();
  let entry = state.deferred.get(kind);
  if (!entry) {
    entry = { items: [], flush: flush as (items: unknown[]) => Statement, context };
    state.deferred.set(kind, entry);
  }
  entry.items.push(...items);
  return true;
}

/**
 * Runs `item` as part of one statement shared with the items of the same `kind` that callers
 * sharing this transaction handed in while the connection was busy (batched handlers all marking
 * their inbox entries at once): `build` makes the statement for the group, `read` gives each item
 * its answer, in order. Returns undefined when `tx` was not made by {@link runTransaction} (the
 * caller then runs its single statement itself). A failed statement rejects every item of its group.
 */
export function coalesceInTx<I, R>(
  tx: SqlTx,
  kind: string,
  context: string,
  item: I,
  build: (items: I[]) => Statement,
  read: (result: QueryResult, items: I[]) => R[],
): Promise<R> | undefined {
  const state = states.get(tx);
  if (!state) return undefined;
  state.coalescing ??= new Map();
  let group = state.coalescing.get(kind);
  if (!group) {
    const open: CoalescedGroup = { items: [], waiters: [] };
    group = open;
    state.coalescing.set(kind, open);
    enqueue(state, async () => {
      // the group closes when its turn comes: later items form the next group
      state.coalescing?.delete(kind);
      const items = open.items as I[];
      try {
        const answers = read(await runQuery(state, context, build(items)), items);
        open.waiters.forEach((w, i) => w.resolve(answers[i]));
      } catch (error) {
        open.waiters.forEach((w) => w.reject(error));
      }
    });
  }
  const joined = group;
  return new Promise<R>((resolve, reject) => {
    joined.items.push(item);
    joined.waiters.push({ resolve: resolve as (value: unknown) => void, reject });
  });
}

/**
 * Runs one statement on the transaction's connection. Work sharing a transaction may call this
 * concurrently (handlers batched into one transaction); statements are queued here rather than
 * handed to `pg` while another runs, which pg 8 tolerates but deprecates.
 */
function clientQuery<Row extends QueryResultRow>(state: TxState, context: string, statement: Statement): Promise<QueryResult<Row>> {
  return enqueue(state, () => runQuery<Row>(state, context, statement));
}

/** Runs `job` once every job queued before it on this connection settled. */
function enqueue<T>(state: TxState, job: () => Promise<T>): Promise<T> {
  const next = state.tail ? state.tail.then(job, job) : job();
  state.tail = next.catch(() => {});
  return next;
}

/** Runs the writes deferred to commit, kind by kind in the order they were first deferred. */
async function flushDeferred(state: TxState): Promise<void> {
  // after a failed statement the server refuses everything: COMMIT then reports that failure
  if (!state.deferred || state.failure) return;
  for (const { items, flush, context } of state.deferred.values()) {
    if (items.length > 0) await clientQuery(state, context, flush(items));
  }
  state.deferred = undefined;
}

/** `ROLLBACK TO SAVEPOINT`, the one statement an aborted transaction still runs (it ends the abort). */
const ROLLBACK_TO = /^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*ROLLBACK(?:\s+(?:WORK|TRANSACTION))?\s+TO\b/i;

async function runQuery<Row extends QueryResultRow>(state: TxState, context: string, statement: Statement): Promise<QueryResult<Row>> {
  if (!state.open) throw new HeraldError(CoreErrors.closed, `pgStores: ${context} on a transaction that already finished`);
  // PostgreSQL refuses every statement after the first failure (25P02, which says nothing of why):
  // work sharing the transaction (batched handlers) gets that failure instead, not sent
  const rollingBack = state.failure !== undefined && ROLLBACK_TO.test(statement.text);
  if (state.failure && !rollingBack) throw afterFailure(state.failure, `pgStores: ${context} not run: a statement in the transaction failed earlier`);
  state.running++;
  try {
    const result = await state.client.query<Row>(statement);
    if (rollingBack) state.failure = undefined;
    return result;
  } catch (thrown) {
    const error = toStoreError(thrown, `pgStores: ${context}`, { idempotentDdl: isIdempotentDdl(statement.text) });
    state.failure ??= error;
    throw error;
  } finally {
    state.running--;
  }
}

/** An error for what the transaction's first failure stopped: that failure's code and retriability, and it as the cause. */
function afterFailure(failure: HeraldError, what: string): HeraldError {
  return new HeraldError(failure.code, `${what} (PostgreSQL aborts the whole transaction at the first error): ${failure.message}`, {
    retriable: failure.retriable,
    cause: failure,
    details: failure.details,
  });
}

function createTx(state: TxState): SqlTx {
  const tx: SqlTx = {
    async query<Row>(sql: string, params: readonly unknown[] = [], options?: SqlOptions) {
      const result = await clientQuery(state, 'query', userStatement(sql, params, options));
      return result.rows as Row[];
    },
    async execute(sql, params = [], options) {
      const result = await clientQuery(state, 'execute', userStatement(sql, params, options));
      return result.rowCount ?? 0;
    },
  };
  states.set(tx, state);
  return tx;
}

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
export async function runTransaction<T>(db: Db, onCommitted: (appended: boolean) => void, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  db.assertOpen();
  return db.inFlight(async () => {
    await db.ready();
    let client: PoolClient;
    try {
      client = await db.pool.connect();
    } catch (error) {
      throw toStoreError(error, 'pgStores: connect');
    }
    return runOn(db, client, onCommitted, work);
  });
}

async function runOn<T>(db: Db, client: PoolClient, onCommitted: (appended: boolean) => void, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  const state: TxState = { client, open: true, appended: false, running: 0 };
  let broken = false;
  // a checked-out client that loses its connection emits 'error'; the pending query rejects too
  const onClientError = () => (broken = true);
  client.on('error', onClientError);
  try {
    await clientQuery(state, 'begin', { text: 'BEGIN' });
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

/**
 * COMMIT, under the transaction's deadline still, with {@link COMMIT_GRACE_MS} more: a COMMIT sent
 * just before the deadline (work that used most of the time) is a normal one, not a stuck one.
 * Past that the outcome is unknown (the server may be running deferred triggers, writing the
 * commit, or waiting for a synchronous standby): it rejects with a retriable `timeout` whose
 * `details.commitOutcome` is `unknown`, as a connection lost during COMMIT does, and the caller
 * discards the connection, on which COMMIT may still run. The COMMIT is not cancelled: a cancel
 * could land before or after the commit record, which would leave the outcome just as unknown.
 */
async function commitBefore(client: PoolClient, failure: HeraldError | undefined, deadline: TransactionDeadline, timeoutMs: number): Promise<void> {
  let grace: NodeJS.Timeout | undefined;
  const pastDeadline = deadline.expired.catch(async (expired: unknown) => {
    await new Promise((resolve) => (grace = setTimeout(resolve, COMMIT_GRACE_MS)));
    throw new HeraldError(CoreErrors.timeout, `pgStores: COMMIT did not finish within ${timeoutMs} ms (transactionTimeoutMs) and ${COMMIT_GRACE_MS} ms more: the transaction may or may not have committed; its connection is discarded`, {
      retriable: true,
      cause: expired,
      details: { commitOutcome: 'unknown' },
    });
  });
  try {
    await Promise.race([commit(client, failure), pastDeadline]);
  } finally {
    clearTimeout(grace);
  }
}

/** How long a COMMIT may run past the transaction's deadline before its outcome is reported unknown. */
const COMMIT_GRACE_MS = 2_000;

async function commit(client: PoolClient, failure: HeraldError | undefined): Promise<void> {
  let result: QueryResult;
  try {
    result = await client.query('COMMIT');
  } catch (thrown) {
    const error = toStoreError(thrown, 'pgStores: commit');
    if (!isConnectionError(error)) throw error;
    throw new HeraldError(error.code, `${error.message} (the transaction may or may not have committed)`, {
      retriable: true,
      cause: thrown,
      details: { ...error.details, commitOutcome: 'unknown' },
    });
  }
  if (result.command === 'ROLLBACK') {
    if (failure) throw afterFailure(failure, 'pgStores: the transaction was rolled back: a statement in it failed earlier');
    throw new HeraldError(PgErrorCodes.failed, 'pgStores: the transaction was rolled back: a statement in it failed earlier (PostgreSQL aborts the whole transaction at the first error)', {
      retriable: false,
    });
  }
}

const preparedNames = new Map<string, string>();

/** A user's statement; prepared ones get a name derived from their text, the same on every connection. */
function userStatement(sql: string, params: readonly unknown[], options: SqlOptions | undefined): Statement {
  if (!options?.prepare) return { text: sql, values: [...params] };
  let name = preparedNames.get(sql);
  if (name === undefined) {
    name = `herald_user_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    if (preparedNames.size < 10_000) preparedNames.set(sql, name);
  }
  return { name, text: sql, values: [...params] };
}
