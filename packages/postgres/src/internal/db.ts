import { CoreErrors, HeraldError, type Logger } from '@herald/core';
import type { Pool, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { PgErrorCodes, toStoreError } from '../errors.js';
import { runMigrations } from '../migrate.js';
import { checkForeignIds } from './foreignIds/checkForeignIds.js';
import type { Tables } from './tables.js';
import { createTransactionWatch, type TransactionWatch } from './transactionWatch.js';

/** A statement with positional `$n` parameters; `name` makes pg prepare it once per connection. */
export type Statement = QueryConfig<unknown[]>;

/** What every store operation shares: the pool, the table names, the migration gate, close state. */
export interface Db {
  readonly pool: Pool;
  readonly t: Tables;
  readonly logger: Logger;
  /** The deadline of the transactions the stores run. */
  readonly transactions: TransactionWatch;
  /** Resolves once migrations ran (when they are ours to run) and no foreign transaction ids are left. */
  ready(): Promise<void>;
  /** Runs one statement as its own transaction; retries it when it lost a race (deadlock, serialization). */
  run<Row extends QueryResultRow>(context: string, statement: Statement): Promise<QueryResult<Row>>;
  /** Throws `closed` once the stores are closed. */
  assertOpen(): void;
  /**
   * Runs an operation of the stores (a transaction, a statement) as work in flight, which `close()`
   * waits for. Call {@link assertOpen} first: work started once closing began is not waited for.
   */
  inFlight<T>(operation: () => Promise<T>): Promise<T>;
  /** Refuses new work, waits for the migration and the work in flight, then ends the pool if it is ours. */
  close(): Promise<void>;
}

/** Attempts for a single-statement operation that keeps losing lock races before giving up. */
const STATEMENT_ATTEMPTS = 3;

export function createDb(options: { pool: Pool; ownsPool: boolean; t: Tables; migrate: boolean; logger: Logger; transactionTimeoutMs: number }): Db {
  const { pool, t, logger } = options;
  const transactions = createTransactionWatch(options.transactionTimeoutMs);
  let migration: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  // the stores' own work in flight: ending a pool of ours waits for its connections anyway, but a
  // pool the caller gave is not ended, and its other users' connections are not ours to wait for
  const running = new Set<Promise<unknown>>();

  function inFlight<T>(operation: () => Promise<T>): Promise<T> {
    const work = operation();
    const settled: Promise<void> = work.then(
      () => void running.delete(settled),
      () => void running.delete(settled),
    );
    running.add(settled);
    return work;
  }

  /**
   * Migrates and repairs transaction ids copied from another cluster, logging what it repaired;
   * stores that may not (migrate off) only look for such ids and refuse to run on them.
   */
  async function open(): Promise<void> {
    if (!options.migrate) return checkForeignIds(pool, t);
    const { repaired } = await runMigrations(pool, t);
    if (repaired) {
      logger.warn('pgStores: repaired transaction ids this PostgreSQL cluster never assigned (the database was copied from another cluster)', { ...repaired });
    }
  }

  function ready(): Promise<void> {
    // a failed migration is not cached: the next operation tries again (the database may be back)
    migration ??= open().then(
      () => undefined,
      (error: unknown) => {
        migration = undefined;
        throw error;
      },
    );
    return migration;
  }

  function assertOpen(): void {
    if (closing) throw new HeraldError(CoreErrors.closed, 'pgStores: the stores are closed');
  }

  return {
    pool,
    t,
    logger,
    transactions,
    ready,
    assertOpen,
    inFlight,
    async run<Row extends QueryResultRow>(context: string, statement: Statement) {
      assertOpen();
      return inFlight(async () => {
        await ready();
        for (let attempt = 1; ; attempt++) {
          try {
            return await pool.query<Row>(statement);
          } catch (thrown) {
            // pg's pool.query discards the connection of a failed statement itself
            const error = toStoreError(thrown, `pgStores: ${context}`);
            if (error.code !== PgErrorCodes.conflict || attempt >= STATEMENT_ATTEMPTS) throw error;
            logger.debug('pgStores: statement lost a lock race, running it again', { context, attempt });
          }
        }
      });
    },
    close() {
      closing ??= (async () => {
        await migration?.catch(() => {});
        // nothing new starts once closing is set (assertOpen), so the set only shrinks
        while (running.size > 0) await Promise.all(running);
        if (options.ownsPool) await pool.end();
      })();
      return closing;
    },
  };
}
