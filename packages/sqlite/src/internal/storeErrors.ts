import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError } from '@herald/core';
import { SqliteErrors } from '../errors.js';

/** Where a failure is reported from: the operation (`dead letters: list`) and the file. */
export interface ErrorSite {
  readonly path: string;
  readonly context: string;
}

/** Whether an error is SQLite reporting lock contention that outlived the busy timeout. */
export function isBusyError(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** SQLite's (extended) result code of what better-sqlite3 threw, if it is SQLite's error. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** The file could not be read or written as asked: the disk, the mount or the permissions, which may recover. */
const UNAVAILABLE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|NOMEM|PERM|NOLFS|PROTOCOL)/;
const CORRUPT = /^SQLITE_(CORRUPT|NOTADB)/;

/**
 * Maps what better-sqlite3 throws to a {@link HeraldError} whose `retriable` flag says whether
 * running the work again may succeed, as the PostgreSQL stores map their driver's errors (the same
 * `store-*` codes): a constraint refusing a write is `store-constraint` and SQL SQLite refuses (a
 * syntax error, a missing table, a type mismatch) `store-failed`, neither retriable; a full disk,
 * an I/O error, a read-only or unopenable file is a retriable `store-unavailable`, a damaged file a
 * `store-corrupt` that is not, both naming the file; a value too big is the core's `value-rejected`;
 * lock contention past the busy timeout is `store-busy`. SQLite's error is the `cause` and its code
 * `details.sqliteCode`. Anything else (a HeraldError, an error that is not SQLite's) is returned
 * as is.
 */
export function toStoreError(thrown: unknown, at: ErrorSite): unknown {
  const code = sqliteCode(thrown);
  if (code === undefined || thrown instanceof HeraldError) return thrown;
  const reason = `${(thrown as Error).message} (${code})`;
  const as = (retriable: boolean) => ({ retriable, cause: thrown, details: { sqliteCode: code, path: at.path } });
  if (isBusyError(thrown)) return new HeraldError(SqliteErrors.storeBusy, `${at.context}: ${at.path} stayed locked by another connection past busyTimeoutMs: ${reason}`, as(true));
  if (UNAVAILABLE.test(code)) return new HeraldError(SqliteErrors.storeUnavailable, `${at.context}: ${at.path}: ${reason}`, as(true));
  if (CORRUPT.test(code)) return new HeraldError(SqliteErrors.storeCorrupt, `${at.context}: ${at.path} is damaged or not a SQLite database: ${reason}`, as(false));
  if (code.startsWith('SQLITE_CONSTRAINT')) return new HeraldError(SqliteErrors.storeConstraint, `${at.context}: ${reason}`, as(false));
  if (code === 'SQLITE_TOOBIG') return new HeraldError(CoreErrors.valueRejected, `${at.context}: ${reason}`, as(false));
  return new HeraldError(SqliteErrors.storeFailed, `${at.context}: ${reason}`, as(false));
}

/**
 * SQLite's failures as the log reports them: lock contention past the wait and a disk that may
 * recover (full, I/O error, read-only) are the core's retriable `broker-unavailable`, naming the
 * file; a damaged file is `store-corrupt`. Anything else (a write operation's own error) is as thrown.
 */
export function toLogError(thrown: unknown, at: ErrorSite): unknown {
  if (isBusyError(thrown)) {
    return new HeraldError(CoreErrors.brokerUnavailable, `${at.context}: ${at.path} stayed locked by another connection past busyTimeoutMs`, { retriable: true, cause: thrown });
  }
  const mapped = toStoreError(thrown, at);
  if (!(mapped instanceof HeraldError) || mapped === thrown) return thrown;
  if (mapped.retriable) return new HeraldError(CoreErrors.brokerUnavailable, mapped.message, { retriable: true, cause: thrown, details: mapped.details });
  return mapped.code === SqliteErrors.storeCorrupt.code ? mapped : thrown;
}

/** The log's reads: as its writes (see {@link toLogError}), and SQLite's other errors `store-failed`, as a read has no error of its own. */
function toLogReadError(thrown: unknown, at: ErrorSite): unknown {
  const mapped = toLogError(thrown, at);
  return mapped === thrown ? toStoreError(thrown, at) : mapped;
}

/** A statement run outside any transaction, SQLite's failures mapped (see {@link readGuard}). */
export interface GuardedRead<Params extends unknown[], Row> {
  all(...params: Params): Row[];
  get(...params: Params): Row | undefined;
}

/**
 * Guards for statements run outside any transaction (the stores' read connection, the log's reads
 * between its write transactions), which the transaction runner and the log's write queue do not
 * see: what SQLite throws is mapped by `map` with the operation named where the statement is
 * guarded and the statement's file, as the runner and the queue map theirs. A call is a try/catch
 * around better-sqlite3's synchronous call, free while nothing throws, with no closure or promise
 * of its own (`isKeyParked` runs for every event of a park-key group); the parameters are passed
 * on as given (better-sqlite3 binds an array argument more slowly than the same values spread).
 */
function readGuard(map: (thrown: unknown, at: ErrorSite) => unknown) {
  function guard<Params extends unknown[], Row>(stmt: Database.Statement<Params, Row>, context: string): GuardedRead<Params, Row> {
    const at: ErrorSite = { path: stmt.database.name, context };
    return {
      all(...params) {
        try {
          return stmt.all(...params);
        } catch (error) {
          throw map(error, at);
        }
      },
      get(...params) {
        try {
          return stmt.get(...params);
        } catch (error) {
          throw map(error, at);
        }
      },
    };
  }
  return {
    /** `stmt` (plucked or raw as wanted) with its failures mapped, naming `context`. */
    guard,
    /** Prepares `read.sql` on `db` and guards it: SQLite failing to prepare it (it re-reads a changed schema) is mapped too. */
    prepare<Row>(db: Database.Database, read: { readonly sql: string; readonly context: string }): GuardedRead<unknown[], Row> {
      try {
        return guard(db.prepare<unknown[], Row>(read.sql), read.context);
      } catch (error) {
        throw map(error, { path: db.name, context: read.context });
      }
    },
  };
}

/** The stores' reads on their read connection: SQLite's failures are the stores' errors (see {@link toStoreError}). */
export const storeReads = readGuard(toStoreError);

/** The log's reads outside its write transactions: SQLite's failures as the log reports them (see {@link toLogError}). */
export const logReads = readGuard(toLogReadError);
