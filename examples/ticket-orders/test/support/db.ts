import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Read access to the example's own tables for assertions, independent of the running services:
 * the SQLite store file of the embedded engine, or the PostgreSQL database. Queries use the SQL
 * both share with `$n` parameters; `count` reads the first column of the first row as a number.
 */
export interface OrdersDb {
  count(sql: string, params?: unknown[]): Promise<number>;
  rows<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** `<dataDir>/store.db`, opened read-only next to the running processes (SQLite WAL allows concurrent readers). */
export function openOrdersDb(dataDir: string): OrdersDb {
  const db = new Database(join(dataDir, 'store.db'), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  // better-sqlite3 binds ?NNN; $n would be a named parameter
  const prepare = (sql: string) => db.prepare(sql.replace(/\$(\d+)/g, '?$1'));
  return {
    count: async (sql, params = []) => Number((prepare(sql).pluck().get(...params) as number | bigint | undefined) ?? 0),
    rows: async <T>(sql: string, params: unknown[] = []) => prepare(sql).all(...params) as T[],
    close: async () => {
      db.close();
    },
  };
}

/** The PostgreSQL database at `url`, over a small pool; bigint (counts, epoch ms) reads back as a number. */
export function openPgOrdersDb(url: string): OrdersDb {
  const INT8 = 20;
  const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'];
  const pool = new pg.Pool({ connectionString: url, max: 2, types: { getTypeParser } });
  pool.on('error', () => {});
  return {
    async count(sql, params = []) {
      const result = await pool.query({ text: sql, values: params, rowMode: 'array' });
      return Number((result.rows[0] as unknown[] | undefined)?.[0] ?? 0);
    },
    async rows<T>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    close: () => pool.end(),
  };
}
