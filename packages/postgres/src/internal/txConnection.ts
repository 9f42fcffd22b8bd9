import { createHash } from 'node:crypto';
import { CoreErrors, HeraldError, type SqlOptions, type SqlTx } from '@herald/core';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { isIdempotentDdl, toStoreError, writeInRead } from '../errors.js';
import type { Statement } from './db.js';

/** What the stores know about a transaction handle they created. */
export interface TxState {
  readonly client: PoolClient;
  /** A read-only transaction's (`read`): a write refused by the server is the caller's, `read-only-transaction`. */
  readonly readOnly?: boolean;
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

export interface CoalescedGroup {
  readonly items: unknown[];
  readonly waiters: { resolve(value: unknown): void; reject(error: unknown): void }[];
}

const states = new WeakMap<SqlTx, TxState>();

/** The state behind a handle made by {@link createTx}; undefined for any other `SqlTx`. */
export function stateOf(tx: SqlTx): TxState | undefined {
  return states.get(tx);
}

/** The `SqlTx` handed to `work`: its statements queue on the transaction's connection. */
export function createTx(state: TxState): SqlTx {
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

/**
 * Runs one statement on the transaction's connection. Work sharing a transaction may call this
 * concurrently (handlers batched into one transaction); statements are queued here rather than
 * handed to `pg` while another runs, which pg 8 tolerates but deprecates.
 */
export function clientQuery<Row extends QueryResultRow>(state: TxState, context: string, statement: Statement): Promise<QueryResult<Row>> {
  return enqueue(state, () => runQuery<Row>(state, context, statement));
}

/** Runs `job` once every job queued before it on this connection settled. */
export function enqueue<T>(state: TxState, job: () => Promise<T>): Promise<T> {
  const next = state.tail ? state.tail.then(job, job) : job();
  state.tail = next.catch(() => {});
  return next;
}

/** `ROLLBACK TO SAVEPOINT`, the one statement an aborted transaction still runs (it ends the abort). */
const ROLLBACK_TO = /^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*ROLLBACK(?:\s+(?:WORK|TRANSACTION))?\s+TO\b/i;

/** Runs `statement` now (callers queue it first); the first failure stops every later statement but a `ROLLBACK TO`. */
export async function runQuery<Row extends QueryResultRow>(state: TxState, context: string, statement: Statement): Promise<QueryResult<Row>> {
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
    const mapped = toStoreError(thrown, `pgStores: ${context}`, { idempotentDdl: isIdempotentDdl(statement.text) });
    const error = state.readOnly ? writeInRead(mapped) : mapped;
    state.failure ??= error;
    throw error;
  } finally {
    state.running--;
  }
}

/** An error for what the transaction's first failure stopped: that failure's code and retriability, and it as the cause. */
export function afterFailure(failure: HeraldError, what: string): HeraldError {
  return new HeraldError(failure.code, `${what} (PostgreSQL aborts the whole transaction at the first error): ${failure.message}`, {
    retriable: failure.retriable,
    cause: failure,
    details: failure.details,
  });
}
