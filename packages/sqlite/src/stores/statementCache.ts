import type Database from 'better-sqlite3';
import { translatePlaceholders } from './placeholders.js';
import { refuseTransactionControl } from './transactionControl.js';
import { toSqlValue, type SqlValue } from './values.js';

/** A statement of a `SqlTx`, prepared once, with the order its `$n` parameters bind in. */
export interface CachedStatement {
  readonly stmt: Database.Statement<unknown[]>;
  readonly order: readonly number[] | null;
  /** Whether it returns rows (`Statement.reader`, read once). */
  readonly reader: boolean;
}

/**
 * The statements the `SqlTx` handles of one connection run, each prepared once, at most `size`
 * kept (the oldest dropped): transaction control is refused, `$n` placeholders are translated, an
 * error SQLite raises preparing one (a syntax error, a missing table) goes through `wrap`, and
 * `accept` may refuse a statement before it is kept (by throwing).
 */
export function statementCache(
  db: Database.Database,
  size: number,
  wrap: (error: unknown) => unknown,
  accept?: (stmt: Database.Statement<unknown[]>, sql: string) => void,
): (sql: string) => CachedStatement {
  const cache = new Map<string, CachedStatement>();
  return (sql) => {
    let entry = cache.get(sql);
    if (entry) return entry;
    refuseTransactionControl(sql);
    const translated = translatePlaceholders(sql);
    let stmt: Database.Statement<unknown[]>;
    try {
      stmt = db.prepare<unknown[]>(translated.sql);
    } catch (error) {
      throw wrap(error);
    }
    accept?.(stmt, sql);
    entry = { stmt, order: translated.order, reader: stmt.reader };
    if (cache.size >= size) cache.delete(cache.keys().next().value!);
    cache.set(sql, entry);
    return entry;
  };
}

/** `params` as SQLite binds them to `entry`: converted, in the order its placeholders take them. */
export function bindParams(entry: CachedStatement, params: readonly unknown[] | undefined): SqlValue[] {
  if (!params) return [];
  if (entry.order === null) return params.map(toSqlValue);
  return entry.order.map((index) => toSqlValue(params[index]));
}
