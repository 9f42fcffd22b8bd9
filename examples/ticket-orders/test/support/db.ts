import Database from 'better-sqlite3';
import { join } from 'node:path';

/**
 * Read-only access to the example's own tables in `<dataDir>/store.db`, for assertions. Opened
 * read-only next to the running process (SQLite WAL allows concurrent readers).
 */
export interface OrdersDb {
  count(sql: string, params?: unknown[]): number;
  rows<T>(sql: string, params?: unknown[]): T[];
  close(): void;
}

export function openOrdersDb(dataDir: string): OrdersDb {
  const db = new Database(join(dataDir, 'store.db'), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return {
    count: (sql, params = []) => Number((db.prepare(sql).pluck().get(...params) as number | bigint | undefined) ?? 0),
    rows: <T>(sql: string, params: unknown[] = []) => db.prepare(sql).all(...params) as T[],
    close: () => db.close(),
  };
}
