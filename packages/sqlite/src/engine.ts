import { join } from 'node:path';
import { CoreErrors, HeraldError, silentLogger, type RelayHost } from '@herald/core';
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
  /** Closes the broker, then the stores, even when the broker fails to close (then throws its error). Idempotent. */
  close(): Promise<void>;
}

/** Longest an engine that failed to open waits for the log it opened to close, before throwing anyway. */
const CLOSE_AFTER_FAILED_OPEN_MS = 10_000;

/**
 * Herald's default engine: {@link sqliteLog} at `<dataDir>/log.db` and {@link sqliteStores} at
 * `<dataDir>/store.db`. Both are durable by default (fsync at every group commit). Several
 * processes may open the same `dataDir`.
 *
 * Contract: when the stores fail to open, the log opened before them is closed again and their
 * error thrown; being synchronous, this returns before that close is done (its files are released
 * a moment later; a failing close is logged on `log.logger`). {@link openSqliteEngine} waits for it.
 *
 * @example
 * const { broker, stores } = sqliteEngine({ dataDir: '.herald' });
 * const app = createApp({ broker, stores, events: [OrderPlaced] });
 */
export function sqliteEngine(options: SqliteEngineOptions): SqliteEngine {
  const { broker, stores, failed } = openParts(options);
  if (failed) {
    void closeAfterFailedOpen(broker, failed.error, options);
    throw failed.error;
  }
  return assemble(options, broker, stores);
}

/**
 * {@link sqliteEngine}, resolved once open: when the stores fail to open, the log opened before
 * them is closed (waited for up to 10 s) before their error is thrown, so no file of the engine is
 * held when the caller sees it. A close that fails too is logged on `log.logger`; the opening
 * error is still the one thrown. `engineFromEnv` opens the embedded engine with it.
 *
 * @example
 * const { broker, stores } = await openSqliteEngine({ dataDir: '.herald' });
 */
export async function openSqliteEngine(options: SqliteEngineOptions): Promise<SqliteEngine> {
  const { broker, stores, failed } = openParts(options);
  if (failed) {
    await closeAfterFailedOpen(broker, failed.error, options);
    throw failed.error;
  }
  return assemble(options, broker, stores);
}

type Parts = { broker: SqliteLog; stores: SqliteStores; failed?: undefined } | { broker: SqliteLog; stores?: undefined; failed: { error: unknown } };

function openParts(options: SqliteEngineOptions): Parts {
  if (typeof options?.dataDir !== 'string' || options.dataDir.length === 0) {
    throw new HeraldError(CoreErrors.invalidOptions, 'sqliteEngine: dataDir must be a non-empty string');
  }
  const broker = sqliteLog({ ...options.log, path: join(options.dataDir, 'log.db') });
  try {
    return { broker, stores: sqliteStores({ ...options.stores, path: join(options.dataDir, 'store.db') }) };
  } catch (error) {
    return { broker, failed: { error } };
  }
}

/** Closes the log after the stores failed to open, within a bound; never throws (the opening error is the caller's to throw). */
async function closeAfterFailedOpen(broker: SqliteLog, openError: unknown, options: SqliteEngineOptions): Promise<void> {
  const logger = options.log?.logger ?? silentLogger;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), CLOSE_AFTER_FAILED_OPEN_MS);
    timer.unref();
  });
  const closed = broker.close().then(
    () => 'closed' as const,
    (error: unknown) => {
      logger.error('sqliteEngine: closing the log after the stores failed to open failed too; the opening error is the one thrown', { error, openError });
      return 'failed' as const;
    },
  );
  const outcome = await Promise.race([closed, bound]);
  clearTimeout(timer);
  if (outcome === 'late') logger.warn(`sqliteEngine: the log was still closing ${CLOSE_AFTER_FAILED_OPEN_MS} ms after the stores failed to open; throwing their error without waiting longer`, { openError });
}

function assemble(options: SqliteEngineOptions, broker: SqliteLog, stores: SqliteStores): SqliteEngine {
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
        // the stores close even when the log fails to: their connection and timers must not outlive the engine
        const results = await Promise.allSettled([broker.close()]);
        results.push(...(await Promise.allSettled([stores.close()])));
        const [first, second] = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        if (second !== undefined) {
          (options.log?.logger ?? silentLogger).error("sqliteEngine: closing the stores failed too, after the log's close failed; the log's error is the one thrown", { error: second, logError: first });
        }
        if (first !== undefined) throw first;
      })();
      return closing;
    },
  };
}
