import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError, type SqlTx } from '@herald/core';
import { openDatabase } from '../internal/database.js';
import { toStoreError } from '../internal/storeErrors.js';
import { finished } from './stepLog.js';
import { bindParams, statementCache, type CachedStatement } from './statementCache.js';

/** One connection of the read pool: its own statement cache, one read-only transaction at a time. */
export interface ReadConnection {
  /** `BEGIN` and the snapshot, taken at once: the work sees what was committed when it began. */
  begin(): SqliteReadTx;
  /** Ends the transaction `begin` opened (`COMMIT`, or `ROLLBACK` when `ok` is false); its tx refuses further use. */
  end(tx: SqliteReadTx, ok: boolean): void;
  close(): void;
}

/** What {@link openReadConnection} needs. */
export interface ReadConnectionOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly statementCacheSize: number;
}

/** The error of a write in a read-only transaction. */
export function readOnly(what: string): HeraldError {
  return new HeraldError(CoreErrors.readOnlyTransaction, `stores: ${what} in a read-only transaction (stores.read); nothing was written`);
}

/** Whether `tx` is the handle of a read-only transaction of these stores. */
export function isReadTx(tx: SqlTx): boolean {
  return tx instanceof SqliteReadTx;
}

/**
 * Opens a read connection: `query_only` (SQLite refuses any write on it, whatever a statement says),
 * and each statement checked before it runs (`Statement.readonly`), so a write is refused with
 * `read-only-transaction` before SQLite sees it.
 */
export function openReadConnection(options: ReadConnectionOptions): ReadConnection {
  const db = openDatabase({ path: options.path, busyTimeoutMs: options.busyTimeoutMs });
  db.pragma('query_only = 1');
  const begin = db.prepare('BEGIN');
  // any read of the file starts the WAL read transaction, whose snapshot the work's statements share
  const snapshot = db.prepare('SELECT 1 FROM sqlite_schema LIMIT 1');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const wrap = (error: unknown) => toStoreError(error, { path: db.name, context: 'stores: read' });

  const prepare = statementCache(db, options.statementCacheSize, wrap, (stmt, sql) => {
    if (!stmt.readonly) throw readOnly(`a statement that writes (${sql.trim().slice(0, 60)})`);
  });

  return {
    begin() {
      try {
        begin.run();
        snapshot.get();
      } catch (error) {
        if (db.inTransaction) rollback.run();
        throw wrap(error);
      }
      return new SqliteReadTx(prepare, wrap);
    },
    end(tx, ok) {
      tx.active = false;
      if (!db.inTransaction) return;
      try {
        (ok ? commit : rollback).run();
      } catch (error) {
        // a read's COMMIT only releases its snapshot: one that fails leaves it to ROLLBACK
        if (db.inTransaction) rollback.run();
        if (ok) throw wrap(error);
      }
    },
    close: () => db.close(),
  };
}

/** The `SqlTx` of a read-only transaction: usable only while its work runs. */
class SqliteReadTx implements SqlTx {
  active = true;
  constructor(
    private readonly prepare: (sql: string) => CachedStatement,
    private readonly wrap: (error: unknown) => unknown,
  ) {}

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    const { stmt, args } = this.statement(sql, params);
    try {
      if (stmt.reader) return stmt.all(...args) as Row[];
      stmt.run(...args);
      return [];
    } catch (error) {
      throw this.wrap(error);
    }
  }

  async execute(sql: string, params?: readonly unknown[]): Promise<number> {
    const { stmt, args } = this.statement(sql, params);
    try {
      return stmt.reader ? stmt.all(...args).length : stmt.run(...args).changes;
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private statement(sql: string, params: readonly unknown[] | undefined): { stmt: Database.Statement<unknown[]>; args: unknown[] } {
    if (!this.active) throw finished();
    const entry = this.prepare(sql);
    return { stmt: entry.stmt, args: bindParams(entry, params) };
  }
}

export type { SqliteReadTx };
