import type {
  DeadLetterBrowser,
  DeadLetterStore,
  IdempotencyStores,
  OutboxBacklog,
  OutboxSignal,
  OutboxStore,
  ReadTransactions,
  RetentionSweep,
  RetentionSweepResult,
  SagaCensus,
  SagaStore,
  SagaStores,
  SqlTx,
  Stores,
  TimerStores,
  WindowStores,
} from '@herald/core';
import pg from 'pg';
import type { Pool } from 'pg';
import { createDb } from './internal/db.js';
import { pgDeadLetterStore } from './internal/deadLetters/deadLetterStore.js';
import { pgIdempotencyStore } from './internal/idempotency/idempotencyStore.js';
import { pgInboxStore } from './internal/inbox/inboxStore.js';
import { pgOutboxStore } from './internal/outbox/outboxStore.js';
import { pgSagaStore } from './internal/sagas/sagaStore.js';
import { pgTimerStore } from './internal/timers/timerStore.js';
import { tablesFor } from './internal/tables.js';
import { pgWindowStore } from './internal/windows/windowStore.js';
import { runRead, runTransaction } from './internal/transaction.js';
import { startRetention } from './retention.js';
import { resolvePgStoresOptions, type PgStoresOptions } from './options.js';

/**
 * PostgreSQL stores: the {@link Stores} port with the idempotency, timer, saga state, window
 * state, outbox-signal and retention abilities, the read side (the outbox's backlog, the dead
 * letter browser), plus PostgreSQL-specific handles.
 */
export interface PgStores extends Stores<SqlTx>, ReadTransactions<SqlTx>, OutboxSignal, IdempotencyStores<SqlTx>, TimerStores<SqlTx>, SagaStores<SqlTx>, WindowStores<SqlTx>, RetentionSweep {
  /** The outbox, with its backlog per topic (`hasOutboxBacklog`). */
  readonly outbox: OutboxStore<SqlTx> & OutboxBacklog;
  /** The dead letters, with the operator's browser: pages, counts, groups, discard (`canBrowseDeadLetters`). */
  readonly deadLetters: DeadLetterStore & DeadLetterBrowser;
  /** The saga instances, with their census: how many are in flight and the oldest (`hasSagaCensus`). */
  readonly sagas: SagaStore<SqlTx> & SagaCensus;
  /** The pool in use (created from `connectionString`, or the one given). */
  readonly pool: Pool;
  /** Runs pending migrations now (every operation waits for them anyway). */
  ready(): Promise<void>;
  /**
   * Runs the retention sweep now (it also runs every `sweepIntervalMs`): deletes published outbox
   * records, inbox marks and resolved dead letters older than their retention, expired
   * idempotency records, and saga instances finished or awaiting their start not saved for
   * `sagaRetentionMs` (running ones never); returns what it deleted. Joins a sweep already running.
   */
  sweepRetention(): Promise<RetentionSweepResult>;
}

/**
 * Creates Herald's stores on PostgreSQL: outbox (by slot, a hash of the key: relays lease slots and
 * move their watermarks, so any number of relays may run), inbox, dead letters, idempotency keys, timers (fired with `FOR
 * UPDATE SKIP LOCKED`, so any number of schedulers may run), saga instances, and application
 * transactions, all over one `pg` pool. Handlers get a {@link SqlTx} with native `$1, $2...`
 * parameters; the inbox mark, the handler's writes and its outbox appends commit together.
 *
 * Contract: `transaction` runs BEGIN/COMMIT on one pooled connection at READ COMMITTED; `read`
 * runs `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` on one (one snapshot of committed rows;
 * a write fails with `read-only-transaction`), under the same `transactionTimeoutMs`; store
 * errors are `HeraldError`s whose `retriable` says whether rerunning may help (see
 * {@link toStoreError}). Migrations run once, before first use, and so does the repair of
 * transaction ids copied from another cluster (see {@link migrate}); stores that do not migrate
 * refuse to run on such ids (`store-foreign-txids`). In a pool created from
 * `connectionString`, `bigint` (int8) values read back as numbers when they are safe integers, as on
 * SQLite. Committed appends wake in-process relays (`onAppended`); relays in other processes poll.
 *
 * Retention: every `sweepIntervalMs` (on an unref'd timer, one sweep at a time; unless
 * `maintenance` is off) and on
 * `sweepRetention()`, published outbox records, inbox marks, resolved dead letters and finished
 * saga instances older than their retention and expired idempotency records are deleted, in chunks of bounded deletes that
 * skip rows other transactions hold: sweeps in several processes neither fail nor wait on each
 * other, relays or consumers. Outbox age is read on the database clock (which stamps publication),
 * inbox and dead letter age on `clock` (which stamps marks and resolutions).
 *
 * Read side: `outbox.backlog()` (pending records per topic) and the dead letter browser
 * (`deadLetters.page`, `count`, `groups`, `discard`) each run one statement on the pool and see only
 * committed rows; pages follow the adding transaction, then `seq`, and stop before letters of
 * transactions newer than one still running, so a cursor never skips a letter committed late.
 *
 * `close()` refuses new work, stops the sweep (after its current statement), waits for the
 * transactions and statements of these stores still in flight (on a `pool` given too: other users'
 * work on it is not waited for), then ends the pool it created (a given one stays open); it is
 * idempotent.
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
  const db = createDb({ pool, ownsPool: !o.pool, t, migrate: o.migrate, logger, transactionTimeoutMs: o.transactionTimeoutMs });
  const retention = startRetention(db, o);
  const listeners = new Set<() => void>();
  const onCommitted = (appended: boolean) => {
    if (!appended) return;
    for (const listener of listeners) listener();
  };

  return {
    pool,
    outbox: pgOutboxStore(db, o.clock),
    inbox: pgInboxStore(db),
    deadLetters: pgDeadLetterStore(db, o.clock),
    idempotency: pgIdempotencyStore(db),
    timers: pgTimerStore(db, onCommitted),
    sagas: pgSagaStore(db),
    windows: pgWindowStore(db),
    transaction: (work) => runTransaction(db, onCommitted, work),
    read: (work) => runRead(db, work),
    ready: () => db.ready(),
    sweepRetention: retention.sweep,
    onAppended(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      // refuse new work at once; a sweep in flight stops after its current statement
      const ended = db.close();
      await retention.close();
      await ended;
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
