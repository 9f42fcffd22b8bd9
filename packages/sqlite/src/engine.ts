import { join } from 'node:path';
import { CoreErrors, HeraldError, type RelayHost } from '@herald/core';
import { LOG_DEFAULTS, type SqliteLogOptions } from './log/options.js';
import { sqliteLog, type SqliteLog } from './log/sqliteLog.js';
import type { SqliteStoresOptions } from './stores/options.js';
import { sqliteStores, type SqliteStores } from './stores/sqliteStores.js';
import { STORES_DEFAULTS } from './stores/options.js';
import { relayThreadHost } from './relay/relayThread.js';

/** Options of {@link sqliteEngine}. */
export interface SqliteEngineOptions {
  /** Directory holding `log.db` and `store.db` (created if missing). */
  readonly dataDir: string;
  /** Log options other than its path. */
  readonly log?: Omit<SqliteLogOptions, 'path'>;
  /** Store options other than their path. */
  readonly stores?: Omit<SqliteStoresOptions, 'path'>;
  /**
   * Run the app's outbox relay in a worker thread, so reading the outbox and appending to the log
   * use a second core (the engine then provides `relayHost`, which `createApp` picks up); the
   * outbox's slot writes stay on the app's thread, and the records of small relay rounds are handed
   * to the app's consumers in memory. The thread reads the system clock. Worth it
   * under load on a machine with two cores or more; default false (the relay runs on the app's
   * event loop).
   */
  readonly relayThread?: boolean;
}

/** The embedded engine: the log and the stores side by side in one data directory. */
export interface SqliteEngine {
  readonly broker: SqliteLog;
  readonly stores: SqliteStores;
  /** With `relayThread`: where `createApp` runs the relay (a worker thread). */
  readonly relayHost?: RelayHost;
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
  const relayHost = options.relayThread
    ? relayThreadHost({
        storePath: join(options.dataDir, 'store.db'),
        logPath: join(options.dataDir, 'log.db'),
        stores,
        log: broker,
        storeBusyTimeoutMs: options.stores?.busyTimeoutMs ?? STORES_DEFAULTS.busyTimeoutMs,
        logOptions: {
          durability: options.log?.durability ?? LOG_DEFAULTS.durability,
          busyTimeoutMs: options.log?.busyTimeoutMs ?? LOG_DEFAULTS.busyTimeoutMs,
          defaultPartitions: options.log?.defaultPartitions ?? LOG_DEFAULTS.defaultPartitions,
        },
      })
    : undefined;
  return {
    broker,
    stores,
    ...(relayHost ? { relayHost } : {}),
    close() {
      closing ??= (async () => {
        await broker.close();
        await stores.close();
      })();
      return closing;
    },
  };
}
