import type { OutboxSignal, SqlTx, Stores } from '@herald/core';
import pg from 'pg';
import type { Pool } from 'pg';
import { createDb } from './internal/db.js';
import { pgDeadLetterStore } from './internal/deadLetters/deadLetterStore.js';
import { pgIdempotencyStore } from './internal/idempotency/idempotencyStore.js';
import { pgInboxStore } from './internal/inbox/inboxStore.js';
import { pgOutboxStore } from './internal/outbox/outboxStore.js';
import { tablesFor } from './internal/tables.js';
import { runTransaction } from './internal/transaction.js';
import { resolvePgStoresOptions, type PgStoresOptions } from './options.js';

/** PostgreSQL stores: the {@link Stores} port plus PostgreSQL-specific handles. */
export interface PgStores extends Stores<SqlTx>, OutboxSignal {
  /** The pool in use (created from `connectionString`, or the one given). */
  readonly pool: Pool;
  /** Runs pending migrations now (every operation waits for them anyway). */
  ready(): Promise<void>;
  /** Deletes published outbox records older than the retention, and lapsed claims; returns records deleted. */
  sweepOutbox(): Promise<number>;
}

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
  const o = resolvePgStoresOptions(options);
  const t = tablesFor(o.schema);
  const { logger } = o;
  const pool =
    o.pool ??
    new pg.Pool({
      connectionString: o.connectionString,
      max: o.poolSize,
      connectionTimeoutMillis: o.connectTimeoutMs,
      types: { getTypeParser: typeParser as pg.CustomTypesConfig['getTypeParser'] },
    });
  // an idle client losing its connection emits on the pool; unhandled, it would crash the process
  const onPoolError = (error: Error) => logger.warn('pgStores: idle connection failed', { error });
  pool.on('error', onPoolError);
  const db = createDb({ pool, ownsPool: !o.pool, t, migrate: o.migrate, logger });
  const outbox = pgOutboxStore(db, { retentionMs: o.outboxRetentionMs, sweepIntervalMs: o.sweepIntervalMs });
  const listeners = new Set<() => void>();
  const onCommitted = (appended: boolean) => {
    if (!appended) return;
    for (const listener of listeners) listener();
  };

  return {
    pool,
    outbox,
    inbox: pgInboxStore(db),
    deadLetters: pgDeadLetterStore(db, o.clock),
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
      if (o.pool) pool.removeListener('error', onPoolError);
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
