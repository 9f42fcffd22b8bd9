import { CoreErrors, HeraldError, silentLogger, systemClock, type Clock, type Logger } from '@herald/core';
import type { Durability } from '../internal/database.js';
import { nonEmpty, oneOf, positive, stripUndefined } from '../internal/validate.js';

/** Options of {@link sqliteStores}. Durations are in milliseconds. */
export interface SqliteStoresOptions {
  /** The store file (created with its directory if missing); the application's own tables live here too. */
  readonly path: string;
  /**
   * `full` (default): a resolved transaction is fsync'd. `normal`: it survives a process crash but
   * the last commits may be lost on power loss or an OS crash. Faster; not the default.
   */
  readonly durability?: Durability;
  /**
   * How long a transaction waits for another process's write lock before failing with `store-busy`
   * (it waits from the event loop: the thread never blocks on the lock). Default 5 000.
   */
  readonly busyTimeoutMs?: number;
  /** Most logical transactions committed together. Default 1 000. */
  readonly maxBatch?: number;
  /**
   * A transaction's work still running after this long is rolled back and fails with a retriable
   * `timeout`: while it runs it holds the only write lock. Default 30 000.
   */
  readonly transactionTimeoutMs?: number;
  /** Published outbox rows are kept this long for workflow views. Default 7 days. */
  readonly outboxRetentionMs?: number;
  /** Inbox marks are kept this long; duplicates older than this are not recognised. Default 7 days. */
  readonly inboxRetentionMs?: number;
  /** Redriven and discarded dead letters are kept this long after they were resolved. Default 30 days. */
  readonly deadLetterRetentionMs?: number;
  /**
   * Saga instances that finished (`completed`, `failed`) are deleted this long after their last
   * save; a `running` one never is, nor one still waiting for its start event (`awaiting-start`:
   * it holds events already taken, which deleting it would lose). A late event of a deleted
   * instance is taken as the first of a new one: a step's event is kept as awaiting its start, a
   * repeated start event starts the flow again. Keep it longer than
   * any step's deadline and than events of a flow can arrive late (lag, redrives). At least
   * `inboxRetentionMs` (a shorter one is refused): an instance then outlives the inbox marks of
   * the events it applied, so a replay of those events is never dropped as a duplicate while what
   * they did is gone. Default 30 days, or `inboxRetentionMs` when that is longer.
   */
  readonly sagaRetentionMs?: number;
  /** How often the retention sweep runs. Default 60 000. */
  readonly sweepIntervalMs?: number;
  /**
   * Whether this handle checkpoints the WAL and sweeps retention in the background. Default true;
   * a second handle on the same file in the same process (the relay thread's) leaves both to the
   * first.
   */
  readonly maintenance?: boolean;
  /**
   * Whether opening brings the file's Herald tables up to this version's schema (creating the file
   * and its tables when new). Default true. False opens only a file already at it and writes
   * nothing otherwise (its schema is read through a read-only handle first): one without Herald's
   * tables, or with older ones, is refused with `store-not-migrated`, a missing one with
   * `store-unavailable`. A tool opening an app's files, such as the herald CLI, leaves their schema
   * to the app.
   */
  readonly migrate?: boolean;
  /** Prepared statements kept for `tx.query` / `tx.execute`. Default 500. */
  readonly statementCacheSize?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export type ResolvedStoresOptions = Required<SqliteStoresOptions>;

const DAY_MS = 24 * 60 * 60 * 1000;

export const STORES_DEFAULTS = {
  durability: 'full',
  busyTimeoutMs: 5000,
  maxBatch: 1000,
  transactionTimeoutMs: 30_000,
  outboxRetentionMs: 7 * DAY_MS,
  inboxRetentionMs: 7 * DAY_MS,
  deadLetterRetentionMs: 30 * DAY_MS,
  // raised to inboxRetentionMs when that is longer (see resolveStoresOptions)
  sagaRetentionMs: 30 * DAY_MS,
  sweepIntervalMs: 60_000,
  statementCacheSize: 500,
  maintenance: true,
  migrate: true,
} as const;

/** Applies defaults and validates; throws `invalid-options`. */
export function resolveStoresOptions(options: SqliteStoresOptions): ResolvedStoresOptions {
  const name = 'sqliteStores';
  const o = { ...STORES_DEFAULTS, clock: systemClock, logger: silentLogger, ...stripUndefined(options) };
  nonEmpty(name, 'path', o.path);
  if (o.path === ':memory:') throw new HeraldError(CoreErrors.invalidOptions, `${name}: path must be a file; ':memory:' cannot be shared by the connections the engine opens`);
  oneOf(name, 'durability', o.durability, ['full', 'normal']);
  positive(name, 'busyTimeoutMs', o.busyTimeoutMs);
  positive(name, 'maxBatch', o.maxBatch, true);
  positive(name, 'transactionTimeoutMs', o.transactionTimeoutMs);
  positive(name, 'outboxRetentionMs', o.outboxRetentionMs);
  positive(name, 'deadLetterRetentionMs', o.deadLetterRetentionMs);
  positive(name, 'inboxRetentionMs', o.inboxRetentionMs);
  if (options.sagaRetentionMs === undefined) o.sagaRetentionMs = Math.max(STORES_DEFAULTS.sagaRetentionMs, o.inboxRetentionMs);
  positive(name, 'sagaRetentionMs', o.sagaRetentionMs);
  if (o.sagaRetentionMs < o.inboxRetentionMs) {
    throw new HeraldError(
      CoreErrors.invalidOptions,
      `${name}: sagaRetentionMs (${o.sagaRetentionMs}) must be at least inboxRetentionMs (${o.inboxRetentionMs}): a saga instance deleted sooner leaves inbox marks that drop a replay of its events as duplicates`,
    );
  }
  positive(name, 'sweepIntervalMs', o.sweepIntervalMs);
  positive(name, 'statementCacheSize', o.statementCacheSize, true);
  return o;
}
