import type Database from 'better-sqlite3';
import { translatePlaceholders } from './placeholders.js';
import { toSqlValue } from './values.js';

/** Reads whose text depends on their arguments (which filters a query has), prepared once per text. */
export interface ReadStatements {
  /** Runs `sql` (with `$n` placeholders) on the read connection and returns its rows. */
  all<Row>(sql: string, params: readonly unknown[]): Row[];
  get<Row>(sql: string, params: readonly unknown[]): Row | undefined;
}

interface Prepared {
  readonly stmt: Database.Statement<unknown[]>;
  readonly order: readonly number[] | null;
}

/**
 * Prepared statements on `reader`, keyed by their `$n` text and kept up to `size` (the oldest
 * prepared is dropped first). A query's shape set is small (one text per combination of filters),
 * so in practice every read after the first of its shape reuses its statement.
 */
export function createReadStatements(reader: Database.Database, size = 200): ReadStatements {
  const cache = new Map<string, Prepared>();

  function prepare(sql: string): Prepared {
    let entry = cache.get(sql);
    if (entry) return entry;
    const translated = translatePlaceholders(sql);
    entry = { stmt: reader.prepare<unknown[]>(translated.sql), order: translated.order };
    if (cache.size >= size) cache.delete(cache.keys().next().value!);
    cache.set(sql, entry);
    return entry;
  }

  function bind(entry: Prepared, params: readonly unknown[]): unknown[] {
    return entry.order === null ? params.map(toSqlValue) : entry.order.map((index) => toSqlValue(params[index]));
  }

  return {
    all<Row>(sql: string, params: readonly unknown[]) {
      const entry = prepare(sql);
      return entry.stmt.all(bind(entry, params)) as Row[];
    },
    get<Row>(sql: string, params: readonly unknown[]) {
      const entry = prepare(sql);
      return entry.stmt.get(bind(entry, params)) as Row | undefined;
    },
  };
}
