import type Database from 'better-sqlite3';
import { storeReads, type GuardedRead } from '../internal/storeErrors.js';
import { translatePlaceholders } from './placeholders.js';
import { toSqlValue } from './values.js';

/** A read's SQL (with `$n` placeholders) and its parameters. */
export interface ReadQuery {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** Reads whose text depends on their arguments (which filters a query has), prepared once per text. */
export interface ReadStatements {
  /**
   * Runs `query` on the read connection and returns its rows; SQLite's failures are the stores'
   * errors naming `context` (the operation, `dead letters: page`) and the file.
   */
  all<Row>(query: ReadQuery, context: string): Row[];
  get<Row>(query: ReadQuery, context: string): Row | undefined;
}

interface Prepared {
  readonly read: GuardedRead<unknown[], unknown>;
  readonly order: readonly number[] | null;
}

/**
 * Prepared statements on `reader`, keyed by their operation and `$n` text and kept up to `size`
 * (the oldest prepared is dropped first). A query's shape set is small (one text per combination
 * of filters), so in practice every read after the first of its shape reuses its statement. Two
 * operations reading the same text get a statement each, so a failure names its own operation.
 */
export function createReadStatements(reader: Database.Database, size = 200): ReadStatements {
  const cache = new Map<string, Prepared>();

  function prepare(sql: string, context: string): Prepared {
    const key = `${context}\u0000${sql}`;
    let entry = cache.get(key);
    if (entry) return entry;
    const translated = translatePlaceholders(sql);
    entry = { read: storeReads.prepare(reader, { sql: translated.sql, context }), order: translated.order };
    if (cache.size >= size) cache.delete(cache.keys().next().value!);
    cache.set(key, entry);
    return entry;
  }

  function bind(entry: Prepared, params: readonly unknown[]): unknown[] {
    return entry.order === null ? params.map(toSqlValue) : entry.order.map((index) => toSqlValue(params[index]));
  }

  return {
    all<Row>(query: ReadQuery, context: string) {
      const entry = prepare(query.sql, context);
      return entry.read.all(...bind(entry, query.params)) as Row[];
    },
    get<Row>(query: ReadQuery, context: string) {
      const entry = prepare(query.sql, context);
      return entry.read.get(...bind(entry, query.params)) as Row | undefined;
    },
  };
}
