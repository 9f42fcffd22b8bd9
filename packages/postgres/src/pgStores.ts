import { ErrorCodes, HeraldError, silentLogger, type Logger, type OutboxSignal, type SqlTx, type Stores } from '@herald/core';
import pg from 'pg';
import type { Pool } from 'pg';
import { createDb } from './internal/db.js';
import { pgDeadLetterStore } from './internal/deadLetters/deadLetterStore.js';
import { pgIdempotencyStore } from './internal/idempotency/idempotencyStore.js';
import { pgInboxStore } from './internal/inbox/inboxStore.js';
import { pgOutboxStore } from './internal/outbox/outboxStore.js';
import { tablesFor } from './internal/tables.js';
import { runTransaction } from './internal/transaction.js';

export interface PgStoresOptions {
  /** A PostgreSQL URL, e.g. `process.env.DATABASE_URL`. Give this or `pool`. */
  readonly connectionString?: string;
  /** An existing `pg` pool; the stores use it but never end it. Give this or `connectionString`. */
  readonly pool?: Pool;
  /** Schema holding Herald's tables (application tables stay where the search path puts them). Default `herald`. */
  readonly schema?: string;
  /** Connections in the pool the stores create. Default 10. */
  readonly poolSize?: number;
  /** Run {@link migrate} before first use. Default true. */
  readonly migrate?: boolean;
  /** How long to wait for a connection before failing with a retriable error. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /** How long published outbox records are kept for workflow views. Default 7 days. */
  readonly outboxRetentionMs?: number;
  /** Least time between two retention sweeps (run by the relay's `markPublished`). Default 60 000. */
  readonly sweepIntervalMs?: number;
  readonly logger?: Logger;
}

/** PostgreSQL stores: the {@link Stores} port plus PostgreSQL-specific handles. */
export interface PgStores extends Stores<SqlTx>, OutboxSignal {
  /** The pool in use (created from `connectionString`, or the one given). */
  readonly pool: Pool;
  /** Runs pending migrations now (every operation waits for them anyway). */
  ready(): Promise<void>;
  /** Deletes published outbox records older than the retention, and lapsed claims; returns records deleted. */
  sweepOutbox(): Promise<number>;
}

const DEFAULTS = {
  schema: 'herald',
  poolSize: 10,
  migrate: true,
  connectTimeoutMs: 10_000,
  outboxRetentionMs: 7 * 24 * 60 * 60 * 1000,
  sweepIntervalMs: 60_000,
} as const;

/**
 * Creates Herald's stores on PostgreSQL: outbox (claimed per key with `FOR UPDATE SKIP LOCKED`, so
 * any number of relays may run), inbox, dead letters, idempotency keys, and application
 * transactions, all over one `pg` pool. Handlers get a {@link SqlTx} with native `$1, $2...`
 * parameters; the inbox mark, the handler's writes and its outbox appends commit together.
 *
 * Contract: `transaction` runs BEGIN/COMMIT on one pooled connection at READ COMMITTED; store
 * errors are `HeraldError`s whose `retriable` says whether rerunning may help (see
 * {@link toStoreError}). Migrations run once, before first use. In a pool created from
 * `connectionString`, `bigint` (int8) values read back as numbers when they are safe integers, as on
 * SQLite. `close()` waits for transactions in flight, then ends the pool it created; it is idempotent.
 * Committed appends wake in-process relays (`onAppended`); relays in other processes poll.
 *
 * @example
 * const stores = pgStores({ connectionString: process.env.DATABASE_URL });
 * const app = createApp({ broker, stores });
 */
export function pgStores(options: PgStoresOptions): PgStores {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  if (!options.pool === !options.connectionString) invalid('give exactly one of connectionString or pool');
  positiveInteger(settings.poolSize, 'poolSize');
  positiveInteger(settings.connectTimeoutMs, 'connectTimeoutMs');
  positiveInteger(settings.outboxRetentionMs, 'outboxRetentionMs');
  positiveInteger(settings.sweepIntervalMs, 'sweepIntervalMs');
  const t = tablesFor(settings.schema);
  const logger = options.logger ?? silentLogger;
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      max: settings.poolSize,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      types: { getTypeParser: typeParser as pg.CustomTypesConfig['getTypeParser'] },
    });
  // an idle client losing its connection emits on the pool; unhandled, it would crash the process
  const onPoolError = (error: Error) => logger.warn('pgStores: idle connection failed', { error });
  pool.on('error', onPoolError);
  const db = createDb({ pool, ownsPool: !options.pool, t, migrate: settings.migrate, logger });
  const outbox = pgOutboxStore(db, { retentionMs: settings.outboxRetentionMs, sweepIntervalMs: settings.sweepIntervalMs });
  const listeners = new Set<() => void>();
  const onCommitted = (appended: boolean) => {
    if (!appended) return;
    for (const listener of listeners) listener();
  };

  return {
    pool,
    outbox,
    inbox: pgInboxStore(db),
    deadLetters: pgDeadLetterStore(db),
    idempotency: pgIdempotencyStore(db),
    transaction: (work) => runTransaction(db, onCommitted, work),
    ready: () => db.ready(),
    sweepOutbox: () => outbox.sweep(),
    onAppended(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      await db.close();
      listeners.clear();
      if (options.pool) pool.removeListener('error', onPoolError);
    },
  };
}

/** int8 as a number when it fits (counts, epoch ms), else the exact decimal string pg gives. */
function typeParser(oid: number, format?: 'text' | 'binary'): unknown {
  if (oid === 20 && format !== 'binary') {
    return (value: string) => {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : value;
    };
  }
  return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positiveInteger(value: number, name: string): void {
  if (!(Number.isInteger(value) && value > 0)) invalid(`${name} must be a positive integer, got ${value}`);
}

function invalid(message: string): never {
  throw new HeraldError(ErrorCodes.invalidOptions, `pgStores: ${message}`);
}
