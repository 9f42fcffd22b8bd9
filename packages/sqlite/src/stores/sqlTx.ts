import type Database from 'better-sqlite3';
import { SqliteErrors } from '../errors.js';
import { HeraldError, type SqlTx } from '@herald/core';
import { toStoreError } from '../internal/storeErrors.js';
import { isReadTx, readOnly } from './readTx.js';
import { finished } from './stepLog.js';
import { bindParams, statementCache, type CachedStatement } from './statementCache.js';
import type { TxScope } from './txRunner.js';
import type { SqlValue } from './values.js';

/** Creates `SqlTx` handles bound to logical transactions, sharing one statement cache. */
export function createSqlTxFactory(db: Database.Database, cacheSize: number) {
  // SQL SQLite refuses (a syntax error, a missing table) is reported when it is prepared
  const prepare = statementCache(db, cacheSize, (error) => toStoreError(error, { path: db.name, context: 'stores' }));
  const bind = bindParams;

  return {
    /** A handle usable only while `scope` is active. */
    create: (scope: TxScope): SqlTx => new SqliteTx(scope, prepare, bind),
    /**
     * The active scope behind a handle once its statements may run (see `TxScope.lock`), or a clear
     * error for a foreign or finished one.
     */
    async scopeOf(tx: SqlTx): Promise<TxScope> {
      // a store operation (an outbox append...) with the tx of a read-only transaction
      if (isReadTx(tx)) throw readOnly('a store operation');
      if (!(tx instanceof SqliteTx)) throw new HeraldError(SqliteErrors.foreignTransaction, 'stores: this tx does not come from a SQLite store');
      if (!tx.scope.active) throw finished();
      const wait = tx.scope.lock();
      if (wait) await wait;
      return tx.scope;
    },
  };
}

/** The `SqlTx` handle: a class so that one per transaction costs one small object. */
class SqliteTx implements SqlTx {
  constructor(
    readonly scope: TxScope,
    private readonly prepare: (sql: string) => CachedStatement,
    private readonly bind: (entry: CachedStatement, params: readonly unknown[] | undefined) => SqlValue[],
  ) {}

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    if (!this.scope.active) throw finished();
    const entry = this.prepare(sql);
    const args = this.bind(entry, params);
    const wait = this.scope.lock();
    if (wait) await wait;
    if (entry.reader) return this.scope.all(entry.stmt, args) as Row[];
    this.scope.run(entry.stmt, args);
    return [];
  }

  async execute(sql: string, params?: readonly unknown[]): Promise<number> {
    if (!this.scope.active) throw finished();
    const entry = this.prepare(sql);
    const args = this.bind(entry, params);
    const wait = this.scope.lock();
    if (wait) await wait;
    return entry.reader ? this.scope.all(entry.stmt, args).length : this.scope.run(entry.stmt, args);
  }
}
