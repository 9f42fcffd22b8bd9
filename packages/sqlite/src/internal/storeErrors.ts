import { CoreErrors, HeraldError } from '@herald/core';
import { SqliteErrors } from '../errors.js';

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
export function toStoreError(thrown: unknown, at: { readonly path: string; readonly context: string }): unknown {
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
