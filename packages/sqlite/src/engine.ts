import { join } from 'node:path';
import { CoreErrors, HeraldError } from '@herald/core';
import type { SqliteLogOptions } from './log/options.js';
import { sqliteLog, type SqliteLog } from './log/sqliteLog.js';
import type { SqliteStoresOptions } from './stores/options.js';
import { sqliteStores, type SqliteStores } from './stores/sqliteStores.js';

/** Options of {@link sqliteEngine}. */
export interface SqliteEngineOptions {
  /** Directory holding `log.db` and `store.db` (created if missing). */
  readonly dataDir: string;
  /** Log options other than its path. */
  readonly log?: Omit<SqliteLogOptions, 'path'>;
  /** Store options other than their path. */
  readonly stores?: Omit<SqliteStoresOptions, 'path'>;
}

/** The embedded engine: the log and the stores side by side in one data directory. */
export interface SqliteEngine {
  readonly broker: SqliteLog;
  readonly stores: SqliteStores;
  /** Closes the broker, then the stores. Idempotent. */
  close(): Promise<void>;
}

/**
 * Herald's default engine: {@link sqliteLog} at `<dataDir>/log.db` and {@link sqliteStores} at
 * `<dataDir>/store.db`. Both are durable by default (fsync at every group commit). Several
 * processes may open the same `dataDir`.
 *
 * @example
 * const { broker, stores } = sqliteEngine({ dataDir: '.herald' });
 * const app = createApp({ broker, stores, events: [OrderPlaced] });
 */
export function sqliteEngine(options: SqliteEngineOptions): SqliteEngine {
  if (typeof options?.dataDir !== 'string' || options.dataDir.length === 0) {
    throw new HeraldError(CoreErrors.invalidOptions, 'sqliteEngine: dataDir must be a non-empty string');
  }
  const broker = sqliteLog({ ...options.log, path: join(options.dataDir, 'log.db') });
  let stores: SqliteStores;
  try {
    stores = sqliteStores({ ...options.stores, path: join(options.dataDir, 'store.db') });
  } catch (error) {
    void broker.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    broker,
    stores,
    close() {
      closing ??= (async () => {
        await broker.close();
        await stores.close();
      })();
      return closing;
    },
  };
}
