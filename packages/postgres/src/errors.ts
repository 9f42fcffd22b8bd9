import { CoreErrors, HeraldError, defineErrorCodes } from '@herald/core';

/** The error codes the PostgreSQL stores add to the core's; check them with `error.code`. */
export const { specs: PgErrors, codes: PgErrorCodes } = defineErrorCodes({
  conflict: {
    code: 'store-conflict',
    retriable: true,
    meaning: 'Serialization failure, deadlock, lock timeout or colliding DDL: the transaction lost a race and was rolled back.',
    action: 'Retried by the pipeline; if frequent, look for transactions touching the same rows in different orders.',
  },
  unavailable: {
    code: 'store-unavailable',
    retriable: true,
    meaning: 'The connection failed, or the server is shutting down, in recovery or out of connections.',
    action: 'Retried by the pipeline; check the server, the network and max_connections (and HERALD_PG_POOL_SIZE).',
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
 * `duplicate_object`: a table's row type). Run again, `IF NOT EXISTS` finds it; a plain `CREATE` of
 * an existing object fails the same way again, after the retries.
 */
const DUPLICATE_DDL_STATES = new Set(['42P07', '42710']);
/** Connection exceptions (class 08), shutdown, overload, crash recovery. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53000', '58000', '58030']);
/** Node socket errors meaning the server could not be reached or the connection dropped. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Messages of pg's own connection failures, which carry no code. */
const CONNECTION_MESSAGE = /connection terminated|connection timeout|timeout exceeded when trying to connect|client has encountered a connection error|not queryable/i;

/**
 * Maps anything the `pg` driver throws to a {@link HeraldError} whose `retriable` flag says whether
 * running the whole transaction again may succeed: serialization failures, deadlocks and lost
 * connections are retriable; constraint violations, values the server refuses as data (the core's
 * `value-rejected`: a NUL in text, a string too long...) and SQL errors are not. The driver's error is the
 * `cause`; `details.sqlState` (and `details.constraint`, `details.table`) keep what the server said.
 * Concurrent DDL colliding on a system catalog's unique index, or finding the object the other one
 * just committed (several processes creating the same table at start), is a retriable conflict too.
 * A HeraldError passes through unchanged.
 */
export function toStoreError(thrown: unknown, context: string): HeraldError {
  if (thrown instanceof HeraldError) return thrown;
  const error = thrown as { code?: unknown; message?: unknown; constraint?: unknown; table?: unknown };
  const sqlState = typeof error?.code === 'string' ? error.code : undefined;
  const message = `${context}: ${typeof error?.message === 'string' ? error.message : String(thrown)}`;
  const details: Record<string, unknown> = {};
  if (sqlState) details.sqlState = sqlState;
  if (typeof error?.constraint === 'string') details.constraint = error.constraint;
  if (typeof error?.table === 'string') details.table = error.table;
  const options = (retriable: boolean) => ({ retriable, cause: thrown, details });
  if (sqlState && CONFLICT_STATES.has(sqlState)) return new HeraldError(PgErrors.conflict, message, options(true));
  if (sqlState === '23505' && CATALOG_INDEXES.has(String(error?.constraint))) return new HeraldError(PgErrors.conflict, message, options(true));
  if (sqlState && DUPLICATE_DDL_STATES.has(sqlState)) return new HeraldError(PgErrors.conflict, message, options(true));
  if (isUnavailable(sqlState, String(error?.message ?? ''))) return new HeraldError(PgErrors.unavailable, message, options(true));
  if (sqlState?.startsWith('23')) return new HeraldError(PgErrors.constraint, message, options(false));
  // data exceptions: the value itself cannot be stored (a NUL in text, a string too long, ...)
  if (sqlState?.startsWith('22')) return new HeraldError(CoreErrors.valueRejected, message, options(false));
  return new HeraldError(PgErrors.failed, message, options(false));
}

function isUnavailable(sqlState: string | undefined, message: string): boolean {
  if (sqlState === undefined) return CONNECTION_MESSAGE.test(message);
  return sqlState.startsWith('08') || UNAVAILABLE_STATES.has(sqlState) || SOCKET_CODES.has(sqlState);
}

/** Whether a mapped error says the connection itself is broken (the pooled client must be discarded). */
export function isConnectionError(error: HeraldError): boolean {
  return error.code === PgErrorCodes.unavailable;
}
