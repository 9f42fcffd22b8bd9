import { CoreErrors, HeraldError, defineErrorCodes } from '@herald/core';

/** The error codes the PostgreSQL stores add to the core's; check them with `error.code`. */
export const { specs: PgErrors, codes: PgErrorCodes } = defineErrorCodes({
  conflict: {
    code: 'store-conflict',
    retriable: true,
    meaning: 'Serialization failure, deadlock, lock timeout or colliding DDL: the transaction lost a race and was rolled back.',
    action: 'Retried by the pipeline; if frequent, look for transactions touching the same rows in different orders.',
  },
  timeout: {
    code: 'store-timeout',
    retriable: true,
    meaning: 'A statement was cancelled: it ran longer than statement_timeout, an operator cancelled it (pg_cancel_backend), or the stores did, rolling back its transaction (transactionTimeoutMs, or a batch-mate failed).',
    action: 'Retried by the pipeline; if frequent, find the slow statement (a missing index, a lock held long, a busy server) or raise statement_timeout (or transactionTimeoutMs).',
  },
  unavailable: {
    code: 'store-unavailable',
    retriable: true,
    meaning: 'The connection failed or was closed by the server (shutdown, idle-in-transaction timeout), the server is in recovery (a write reaching a hot standby: read_only_sql_transaction) or out of resources (connections, memory, disk). The connection is discarded, so the next attempt connects anew (after a failover, to the new primary).',
    action: 'Retried by the pipeline; check the server (its log, memory and disk), the network, max_connections (and HERALD_PG_POOL_SIZE), and that the address points at the primary (not a standby, nor a database set default_transaction_read_only).',
  },
  constraint: {
    code: 'store-constraint',
    retriable: false,
    meaning: 'A unique, foreign key, check or not-null constraint refused a write; details name the constraint and table.',
    action: 'Treat it as a business error (e.g. a seat already taken) or fix the data the handler writes.',
  },
  failed: {
    code: 'store-failed',
    retriable: false,
    meaning: 'Any other database error: bad SQL, bad data, missing table; details.sqlState says which.',
    action: 'Fix the statement or the schema; the dead letter keeps the event for a redrive.',
  },
  foreignIds: {
    code: 'store-foreign-txids',
    retriable: false,
    meaning: "Stores opened with migrate: false (as the herald CLI opens them) found outbox rows or watermarks, or dead letters, whose transaction id this PostgreSQL cluster never assigned: the database was copied from another cluster (pg_dump/pg_restore, logical replication), whose ids run higher. Left so, new outbox records would count as published and never be relayed, and dead letters would stay hidden from pages. Nothing was changed; details count what was found.",
    action: 'Run migrate() or start the app (pgStores with migrate on, the default) of this release or newer once: it repairs the ids in one transaction and logs what it changed (see the PostgreSQL README, moving the database). Then run the command again.',
  },
});

/** SQLSTATEs whose transaction may succeed when simply run again. */
const CONFLICT_STATES = new Set(['40001', '40P01', '55P03']);
/**
 * Unique indexes of the system catalogs. A violation of one means two sessions ran the same DDL at
 * once (e.g. `CREATE TABLE IF NOT EXISTS` from several starting processes): a race, not bad data;
 * run again, the statement finds the object and succeeds.
 */
const CATALOG_INDEXES = new Set(['pg_type_typname_nsp_index', 'pg_class_relname_nsp_index', 'pg_namespace_nspname_index', 'pg_proc_proname_args_nsp_index']);
/**
 * The same race, seen a moment later: the other session's object was committed between this
 * statement's existence check and its creation, and the server names it (`duplicate_table`,
 * `duplicate_object`: a table's row type). Only a race when the statement creates what does not
 * exist yet (`IF NOT EXISTS`, or the migrations): run again, it finds the object. A plain `CREATE`
 * of an existing object fails the same way every time, so there it is not retried.
 */
const DUPLICATE_DDL_STATES = new Set(['42P07', '42710']);
/**
 * `query_canceled`: statement_timeout, pg_cancel_backend, or the stores themselves: a transaction
 * rolled back while one of its statements still runs (its `transactionTimeoutMs` passed, or a
 * batch-mate failed) has that statement cancelled first (`cancelRunning`), and whoever awaited it
 * gets this. Each time the statement was slow (under load, behind a lock), not wrong, and may well
 * finish in time when run again, as a lock timeout (a conflict) may; and the transaction is rolled
 * back, so running it again is safe.
 */
const CANCELED_STATE = '57014';
/**
 * Connection exceptions (class 08), shutdown, crash recovery, the server closing an idle
 * transaction's session; insufficient resources (class 53: connections, memory, disk) are checked
 * by class. `read_only_sql_transaction` (25006): a write reached a server in recovery, a hot
 * standby, which is what a DNS name or a pooler points at for a while during a failover; as
 * unavailable, the connection is discarded, not reused (it would reach the standby again), and the
 * retry connects anew, to the new primary once the name points at it.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '25P03', '25006', '58000', '58030']);
/** Node socket errors meaning the server could not be reached or the connection dropped. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Messages of pg's own connection failures, which carry no code. */
const CONNECTION_MESSAGE = /connection terminated|connection timeout|timeout exceeded when trying to connect|client has encountered a connection error|not queryable/i;

/** How the failed statement came to be run, where that changes what an error means. */
export interface StoreErrorOptions {
  /**
   * The statement creates only what does not exist yet (`IF NOT EXISTS`, or a migration under its
   * lock): the server naming an existing object means a concurrent session just created it.
   */
  readonly idempotentDdl?: boolean;
}

/** Whether `sql` is DDL that creates only what does not exist yet (see {@link StoreErrorOptions}). */
export function isIdempotentDdl(sql: string): boolean {
  return IF_NOT_EXISTS.test(sql);
}
const IF_NOT_EXISTS = /\bIF\s+NOT\s+EXISTS\b/i;

/**
 * Maps anything the `pg` driver throws to a {@link HeraldError} whose `retriable` flag says whether
 * running the whole transaction again may succeed: serialization failures, deadlocks, lost
 * connections and writes refused by a standby in recovery are retriable; constraint violations,
 * values the server refuses as data (the core's `value-rejected`: a NUL in text, a string too
 * long...) and SQL errors are not. A cancelled statement (statement_timeout, or cancelled by the
 * stores when its transaction rolled back) is a retriable `store-timeout`. The driver's error is
 * the `cause`; `details.sqlState` (and `details.constraint`, `details.table`) keep what the server
 * said.
 * Concurrent DDL colliding on a system catalog's unique index is a retriable conflict too, and so is
 * finding the object the other one just committed when the statement creates only what does not
 * exist yet (`options.idempotentDdl`: several processes creating the same table at start).
 * A HeraldError passes through unchanged.
 */
export function toStoreError(thrown: unknown, context: string, options: StoreErrorOptions = {}): HeraldError {
  if (thrown instanceof HeraldError) return thrown;
  const error = thrown as { code?: unknown; message?: unknown; constraint?: unknown; table?: unknown };
  const sqlState = typeof error?.code === 'string' ? error.code : undefined;
  const message = `${context}: ${typeof error?.message === 'string' ? error.message : String(thrown)}`;
  const details: Record<string, unknown> = {};
  if (sqlState) details.sqlState = sqlState;
  if (typeof error?.constraint === 'string') details.constraint = error.constraint;
  if (typeof error?.table === 'string') details.table = error.table;
  const as = (retriable: boolean) => ({ retriable, cause: thrown, details });
  if (sqlState && CONFLICT_STATES.has(sqlState)) return new HeraldError(PgErrors.conflict, message, as(true));
  if (sqlState === '23505' && CATALOG_INDEXES.has(String(error?.constraint))) return new HeraldError(PgErrors.conflict, message, as(true));
  if (options.idempotentDdl && sqlState && DUPLICATE_DDL_STATES.has(sqlState)) return new HeraldError(PgErrors.conflict, message, as(true));
  if (sqlState === CANCELED_STATE) return new HeraldError(PgErrors.timeout, message, as(true));
  if (isUnavailable(sqlState, String(error?.message ?? ''))) return new HeraldError(PgErrors.unavailable, message, as(true));
  if (sqlState?.startsWith('23')) return new HeraldError(PgErrors.constraint, message, as(false));
  // data exceptions: the value itself cannot be stored (a NUL in text, a string too long, ...)
  if (sqlState?.startsWith('22')) return new HeraldError(CoreErrors.valueRejected, message, as(false));
  return new HeraldError(PgErrors.failed, message, as(false));
}

function isUnavailable(sqlState: string | undefined, message: string): boolean {
  if (sqlState === undefined) return CONNECTION_MESSAGE.test(message);
  return sqlState.startsWith('08') || sqlState.startsWith('53') || UNAVAILABLE_STATES.has(sqlState) || SOCKET_CODES.has(sqlState);
}

/**
 * A mapped error of a statement in a read-only transaction (`read`): there `read_only_sql_transaction`
 * (25006) is the caller's write, refused by `READ ONLY`, not a standby in recovery (a standby runs
 * reads), so it is the core's non-retriable `read-only-transaction` and the connection is kept.
 */
export function writeInRead(error: HeraldError): HeraldError {
  if (error.details?.sqlState !== READ_ONLY_STATE) return error;
  return new HeraldError(CoreErrors.readOnlyTransaction, `${error.message} (a write in a read-only transaction, stores.read; nothing was written)`, {
    retriable: false,
    cause: error.cause,
    details: error.details,
  });
}
const READ_ONLY_STATE = '25006';

/**
 * Whether a mapped error says the connection itself is broken or leads nowhere useful (a standby
 * refusing writes): the pooled client must be discarded.
 */
export function isConnectionError(error: HeraldError): boolean {
  return error.code === PgErrorCodes.unavailable;
}
