import {
  CoreErrors,
  HeraldError,
  type DeadLetterBrowser,
  type DeadLetterStore,
  type IdempotencyStores,
  type OutboxBacklog,
  type OutboxSignal,
  type OutboxStore,
  type ReadTransactions,
  type RetentionSweep,
  type RetentionSweepResult,
  type SagaCensus,
  type SagaStore,
  type SagaStores,
  type SqlTx,
  type Stores,
  type TimerStores,
  type WindowStores,
} from '@herald/core';
import { startCheckpointer } from '../internal/checkpointer.js';
import { openDatabase, walSyncFor } from '../internal/database.js';
import { readDurability } from '../internal/readDurability.js';
import { openAtSchema } from '../internal/migrate.js';
import { createDeadLetterStore } from './deadLetters.js';
import { createIdempotencyStore } from './idempotency.js';
import { createInboxStore } from './inbox.js';
import { resolveStoresOptions, type SqliteStoresOptions } from './options.js';
import { createOutboxStore, type SlotWrites, type StoreDeps } from './outbox.js';
import { createSlotWrites } from './slotWrites.js';
import { createSagaStore } from './sagas.js';
import { createTimerStore } from './timers.js';
import { createStoreRetention } from './retention.js';
import { STORE_MIGRATIONS } from './schema.js';
import { createSqlTxFactory } from './sqlTx.js';
import { createReadRunner } from './readRunner.js';
import { createTxRunner } from './txRunner.js';
import { createWindowStore } from './windows.js';

/**
 * The SQLite stores: the required ones, and the abilities idempotency keys, timers, saga state,
 * window state, the outbox signal, retention (`sweepRetention()` runs a sweep now; it also runs
 * every `sweepIntervalMs`), the outbox backlog and the dead letter browser.
 */
export interface SqliteStores extends Stores<SqlTx>, ReadTransactions<SqlTx>, OutboxSignal, IdempotencyStores<SqlTx>, TimerStores<SqlTx>, SagaStores<SqlTx>, WindowStores<SqlTx>, RetentionSweep {
  readonly outbox: OutboxStore<SqlTx> & OutboxBacklog;
  readonly deadLetters: DeadLetterStore & DeadLetterBrowser;
  /** The saga instances, with their census: how many are in flight and the oldest (`hasSagaCensus`). */
  readonly sagas: SagaStore<SqlTx> & SagaCensus;
}

/** Most rows one transaction of the retention sweep deletes of a kind. */
export const RETENTION_CHUNK = 5000;
/** Most connections `read` opens at once (each holds a snapshot while its work runs); more reads wait. */
const READ_CONNECTIONS = 4;
/** How often the background thread checkpoints the WAL. */
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * Creates the stores on one SQLite file. Everything written in a `transaction` (the
 * application's own tables through `tx.query` / `tx.execute` with `$1, $2...` placeholders,
 * outbox records, the inbox mark, an idempotent response, timers, saga state) commits together or
 * not at all.
 *
 * Contract: transactions are group-committed and run concurrently: many logical transactions
 * share one SQLite transaction, one COMMIT and one fsync, and each promise settles after the
 * commit that made it durable (fsync'd off the event loop; outbox claims wait only for the
 * commits they read, marks and releases not at all: losing those in a power cut only republishes
 * records). A failing transaction leaves no trace, and none commits having
 * read writes that did not commit (its work is run again instead; see `createTxRunner` for the
 * isolation rules: concurrent transactions see each other's writes, so prefer `SET n = n + 1` to
 * read-then-write, and expect a work function to run more than once in rare conflicts). A slow
 * transaction delays the others' commits by a few ms, not until it ends; `transactionTimeoutMs`
 * bounds it. A `tx` used after its work settled throws `transaction-finished`. A transaction
 * started inside another's work is a separate transaction that commits on its own.
 *
 * `read(work)` runs a read-only transaction on a pool of read connections (up to 4, opened when
 * first needed), never in the group commit: it sees one snapshot of committed data (no other
 * transaction's writes as they happen), takes no write lock, resolves once what it read is on disk,
 * and refuses writes with `read-only-transaction`; `transactionTimeoutMs` bounds it too.
 *
 * Reads outside transactions (`findByCorrelation`, `findHandled`, `list`, `isKeyParked`, the
 * backlog, dead letter pages, counts and groups) use a second connection and see committed data
 * only; SQLite's failures there are mapped to the same codes as in transactions, the message naming
 * the read (`dead letters: list`) and the file. Several processes may share the file (they wait
 * for each other's write lock up to `busyTimeoutMs`). `onAppended` listeners run after a commit
 * that appended outbox records in this process. `close()` is idempotent: it waits for queued
 * transactions and running reads, then closes the file.
 *
 * @example
 * const stores = sqliteStores({ path: '.herald/store.db' });
 * await stores.transaction(async (tx) => {
 *   await tx.execute('INSERT INTO orders (id, total) VALUES ($1, $2)', [id, total]);
 *   await stores.outbox.append(tx, [record]);
 * });
 */
export function sqliteStores(options: SqliteStoresOptions): SqliteStores {
  const o = resolveStoresOptions(options);
  const writer = openAtSchema({ path: o.path, busyTimeoutMs: o.busyTimeoutMs }, 'stores', STORE_MIGRATIONS, o.migrate);
  const wal = walSyncFor(o.path, o.durability);
  const checkpointer = o.maintenance ? startCheckpointer(o.path, CHECKPOINT_INTERVAL_MS) : undefined;
  const reader = openDatabase({ path: o.path, busyTimeoutMs: o.busyTimeoutMs });
  const readsOnDisk = readDurability(writer, wal);
  const listeners = new Set<() => void>();
  const runner = createTxRunner({
    db: writer,
    durable: () => wal.sync(),
    flushed: readsOnDisk,
    maxBatch: o.maxBatch,
    transactionTimeoutMs: o.transactionTimeoutMs,
    busyTimeoutMs: o.busyTimeoutMs,
    committed(scopes) {
      if (listeners.size === 0 || !scopes.some((scope) => scope.appended)) return;
      for (const listener of listeners) {
        try {
          listener();
        } catch (error) {
          o.logger.warn('stores: an onAppended listener threw', { error });
        }
      }
    },
  });
  const reads = createReadRunner({
    path: o.path,
    busyTimeoutMs: o.busyTimeoutMs,
    statementCacheSize: o.statementCacheSize,
    maxConnections: READ_CONNECTIONS,
    transactionTimeoutMs: o.transactionTimeoutMs,
    flushed: readsOnDisk,
  });
  const handles = createSqlTxFactory(writer, o.statementCacheSize);
  const deps: StoreDeps = { writer, reader, runner, scopeOf: handles.scopeOf, clock: o.clock, flushed: readsOnDisk };
  const retention = createStoreRetention(writer, runner, o.clock, {
    outboxRetentionMs: o.outboxRetentionMs,
    inboxRetentionMs: o.inboxRetentionMs,
    deadLetterRetentionMs: o.deadLetterRetentionMs,
    sagaRetentionMs: o.sagaRetentionMs,
    chunk: RETENTION_CHUNK,
  });
  let sweeping: Promise<RetentionSweepResult> | undefined;
  let closing: Promise<void> | undefined;

  function sweep(): Promise<RetentionSweepResult> {
    sweeping ??= retention.sweep().finally(() => (sweeping = undefined));
    return sweeping;
  }
  const sweeper = o.maintenance ? setInterval(() => void sweep().catch((error: unknown) => o.logger.warn('stores: retention sweep failed', { error })), o.sweepIntervalMs) : undefined;
  sweeper?.unref();

  const slotWrites = createSlotWrites(deps);
  const stores: SqliteStores = {
    transaction(work) {
      return runner.run((scope) => work(handles.create(scope)));
    },
    read: (work) => reads.run(work),
    outbox: createOutboxStore(deps, slotWrites),
    inbox: createInboxStore(deps),
    deadLetters: createDeadLetterStore(deps),
    idempotency: createIdempotencyStore(deps),
    timers: createTimerStore(deps),
    sagas: createSagaStore(deps),
    windows: createWindowStore(deps),
    onAppended(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sweepRetention: sweep,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await sweeping?.catch(() => undefined);
        await Promise.all([runner.close(), reads.close()]);
        reader.close();
        writer.close();
        await wal.close();
        await checkpointer?.close();
      })();
      return closing;
    },
  };
  SLOT_WRITES.set(stores, slotWrites);
  return stores;
}

const SLOT_WRITES = new WeakMap<SqliteStores, SlotWrites>();

/** The outbox's slot writes on these stores' writer: what the relay thread has the app's thread run. */
export function slotWritesOf(stores: SqliteStores): SlotWrites {
  const writes = SLOT_WRITES.get(stores);
  if (!writes) throw new HeraldError(CoreErrors.invalidOptions, 'relay thread: the stores were not made by sqliteStores');
  return writes;
}

