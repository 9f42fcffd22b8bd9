import { CoreErrors, HeraldError, MAX_TIMER_MS, silentLogger, systemClock, type Clock, type Logger } from '@herald/core';
import type { Pool } from 'pg';
import { isSchemaName, SCHEMA_NAME } from './internal/tables.js';

/** Options of {@link pgStores}. Durations are in milliseconds. */
export interface PgStoresOptions {
  /** A PostgreSQL URL, e.g. `process.env.DATABASE_URL`. Give this or `pool`. */
  readonly connectionString?: string;
  /** An existing `pg` pool; the stores use it but never end it. Give this or `connectionString`. */
  readonly pool?: Pool;
  /** Schema holding Herald's tables (application tables stay where the search path puts them). Default `herald`. */
  readonly schema?: string;
  /** Connections in the pool the stores create. Default 10. */
  readonly poolSize?: number;
  /**
   * Run {@link migrate} before first use, which also repairs transaction ids copied from another
   * cluster (a dump and restore, logical replication). When false, the stores only look for such
   * ids before first use and refuse every operation with `store-foreign-txids` if they find any.
   * Default true.
   */
  readonly migrate?: boolean;
  /** How long to wait for a connection before failing with a retriable error. Default 10 000; at most `MAX_TIMER_MS` (a Node timer). */
  readonly connectTimeoutMs?: number;
  /**
   * A transaction the stores run (`transaction(work)`, claims, timers) still running after this
   * long is rolled back and fails with a retriable `timeout`, its running statement cancelled:
   * work that never settles would otherwise hold its connection and an open transaction, which
   * holds back the relay server-wide. Raise it for longer work. Default 30 000, as on SQLite.
   */
  readonly transactionTimeoutMs?: number;
  /** Published outbox records are kept this long (by the database clock) for workflow views. Default 7 days. */
  readonly outboxRetentionMs?: number;
  /** Inbox marks are kept this long; a duplicate delivered later than this is not recognised. Default 7 days. */
  readonly inboxRetentionMs?: number;
  /** Resolved (`redriven`, `discarded`) dead letters are kept this long after resolution. `dead` and `parked` ones always stay. Default 30 days. */
  readonly deadLetterRetentionMs?: number;
  /**
   * Saga instances that finished (`completed`, `failed`) are deleted this long after their last
   * save (`updated_at`, stamped by the app's clock; measured with `clock`); a `running` one never
   * is, nor one still waiting for its start event (`awaiting-start`: it holds events already taken,
   * which deleting it would lose). A late event of a deleted instance is taken as the first of a
   * new one: a step's event is kept as awaiting its start, a repeated start event starts the flow
   * again. Keep it longer than any step's deadline
   * and than events of a flow can arrive late (lag, redrives). At least `inboxRetentionMs` (a
   * shorter one is refused): an instance then outlives the inbox marks of the events it applied,
   * so a replay of those events is never dropped as a duplicate while what they did is gone.
   * Default 30 days, or `inboxRetentionMs` when that is longer.
   */
  readonly sagaRetentionMs?: number;
  /** How often the retention sweep runs. Default 60 000; at most `MAX_TIMER_MS` (a Node timer). */
  readonly sweepIntervalMs?: number;
  /**
   * Whether these stores sweep retention in the background (every `sweepIntervalMs`). Default
   * true. A tool opened beside the app (the `herald` CLI) turns it off: it does not know the app's
   * retention, and must not apply its own. `sweepRetention()` still runs on demand.
   */
  readonly maintenance?: boolean;
  /** Times inbox, dead letter and saga retention, stamps dead letter resolution, paces the outbox holdback warning. Default the system clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** The options with every default applied (`pool` and `connectionString` stay as given: one of them). */
export type ResolvedPgStoresOptions = Required<Omit<PgStoresOptions, 'pool' | 'connectionString'>> & Pick<PgStoresOptions, 'pool' | 'connectionString'>;

const DAY_MS = 24 * 60 * 60 * 1000;

export const PG_STORES_DEFAULTS = {
  schema: 'herald',
  poolSize: 10,
  migrate: true,
  connectTimeoutMs: 10_000,
  transactionTimeoutMs: 30_000,
  outboxRetentionMs: 7 * DAY_MS,
  inboxRetentionMs: 7 * DAY_MS,
  deadLetterRetentionMs: 30 * DAY_MS,
  // raised to inboxRetentionMs when that is longer (see resolvePgStoresOptions)
  sagaRetentionMs: 30 * DAY_MS,
  sweepIntervalMs: 60_000,
  maintenance: true,
} as const;

/** Applies defaults and validates every option; throws `invalid-options`. */
export function resolvePgStoresOptions(options: PgStoresOptions): ResolvedPgStoresOptions {
  const o = { ...PG_STORES_DEFAULTS, clock: systemClock, logger: silentLogger, ...definedOnly(options) };
  if (!o.pool === !o.connectionString) invalid('give exactly one of connectionString or pool');
  if (!isSchemaName(o.schema)) invalid(`schema must match ${SCHEMA_NAME} (lower-case letters, digits, _), got ${JSON.stringify(o.schema)}`);
  positiveInteger(o.poolSize, 'poolSize');
  positiveInteger(o.connectTimeoutMs, 'connectTimeoutMs');
  positiveInteger(o.transactionTimeoutMs, 'transactionTimeoutMs');
  positiveInteger(o.outboxRetentionMs, 'outboxRetentionMs');
  positiveInteger(o.inboxRetentionMs, 'inboxRetentionMs');
  positiveInteger(o.deadLetterRetentionMs, 'deadLetterRetentionMs');
  if (options.sagaRetentionMs === undefined) o.sagaRetentionMs = Math.max(PG_STORES_DEFAULTS.sagaRetentionMs, o.inboxRetentionMs);
  positiveInteger(o.sagaRetentionMs, 'sagaRetentionMs');
  if (o.sagaRetentionMs < o.inboxRetentionMs) {
    invalid(`sagaRetentionMs (${o.sagaRetentionMs}) must be at least inboxRetentionMs (${o.inboxRetentionMs}): a saga instance deleted sooner leaves inbox marks that drop a replay of its events as duplicates`);
  }
  positiveInteger(o.sweepIntervalMs, 'sweepIntervalMs');
  // both become Node timers (pg's connect timeout, the sweep's interval), which fire after 1 ms when longer
  atMostTimer(o.connectTimeoutMs, 'connectTimeoutMs');
  atMostTimer(o.sweepIntervalMs, 'sweepIntervalMs');
  return o;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positiveInteger(value: number, name: string): void {
  if (!(Number.isSafeInteger(value) && value > 0)) invalid(`${name} must be a positive integer, got ${value}`);
}

function atMostTimer(value: number, name: string): void {
  if (value > MAX_TIMER_MS) invalid(`${name} must be at most ${MAX_TIMER_MS}, got ${value}`);
}

function invalid(message: string): never {
  throw new HeraldError(CoreErrors.invalidOptions, `pgStores: ${message}`);
}
