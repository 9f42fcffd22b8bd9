import {
  CoreErrors,
  HeraldError,
  MAX_TIMER_MS,
  systemClock,
  type Clock,
  type DeadLetterBrowser,
  type DeadLetterStore,
  type IdempotencyStores,
  type InboxStore,
  type OutboxBacklog,
  type OutboxSignal,
  type OutboxStore,
  type ReadTransactions,
  type SagaCensus,
  type SagaStore,
  type SagaStores,
  type Stores,
  type TimerStores,
  type WindowStores,
} from '@herald/core';
import { createMemoryDeadLetters } from './memoryDeadLetters.js';
import { createMemoryIdempotency } from './memoryIdempotency.js';
import { createMemoryOutbox } from './memoryOutbox.js';
import { createMemorySagas } from './memorySagas.js';
import { createMemoryTimers } from './memoryTimers.js';
import { createMemoryWindows } from './memoryWindows.js';
import { createMemoryDatabase, type MemoryDatabase, type MemoryTx } from './memoryTx.js';

/** Options of {@link memoryStores}. */
export interface MemoryStoresOptions {
  /** Measures outbox claim leases and transaction deadlines, and stamps `publishedAt`. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * A transaction whose work has not settled by then (on `clock`) is rolled back with a retriable
   * `timeout`, as SQLite's and PostgreSQL's stores do: its locks go, and its handle refuses later
   * writes. Default 30,000 ms.
   */
  readonly transactionTimeoutMs?: number;
}

const DEFAULT_TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * Every store over one in-memory database, with the abilities: idempotency keys, timers, saga
 * state, window state, the in-process outbox signal, the outbox backlog, the dead letter browser
 * and the census of saga instances in flight.
 */
export interface MemoryStores extends Stores<MemoryTx>, ReadTransactions<MemoryTx>, IdempotencyStores<MemoryTx>, TimerStores<MemoryTx>, SagaStores<MemoryTx>, WindowStores<MemoryTx>, OutboxSignal {
  readonly outbox: OutboxStore<MemoryTx> & OutboxBacklog;
  readonly deadLetters: DeadLetterStore & DeadLetterBrowser;
  /** Saga state, with the instances in flight per saga and status (`hasSagaCensus`). */
  readonly sagas: SagaStore<MemoryTx> & SagaCensus;
}

/**
 * Creates in-memory stores for unit tests: a real implementation of the Stores port over
 * {@link MemoryTx}, not a mock. The app's key-value writes, outbox appends, inbox marks,
 * idempotency completions, timers, saga saves and window changes made in one `transaction` apply
 * atomically when its work resolves and vanish when it rejects. Concurrent transactions run
 * interleaved (read committed); an inbox mark held by an open transaction makes another
 * transaction marking the same (group, event id) wait for it, then see it, as a unique index does
 * in SQL; loading a saga instance or touching a timer locks it the same way, and a window update
 * waits for another open transaction's update of the same partition, as a row lock does. `read`
 * runs over a snapshot of the committed state taken when it began (no commit made after is seen)
 * and refuses writes with `read-only-transaction`. Dead
 * letters and `begin`/`abandon`/`purge` apply at once, and so does `timers.fireDue` (it wakes
 * `onAppended` listeners). Nothing survives the process.
 *
 * @example
 * const stores = memoryStores();
 * await stores.transaction(async (tx) => tx.set('orders/o-1', { status: 'CREATED' }));
 */
export function memoryStores(options: MemoryStoresOptions = {}): MemoryStores {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
  // at most the longest timer: Node fires a longer one after 1 ms
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
    throw new HeraldError(CoreErrors.invalidOptions, `memoryStores: transactionTimeoutMs must be a positive number of ms up to ${MAX_TIMER_MS}, got ${String(timeoutMs)}`);
  }
  const db = createMemoryDatabase();
  const outbox = createMemoryOutbox(db, clock);
  const idempotency = createMemoryIdempotency(db);
  const windows = createMemoryWindows(db);
  const listeners = new Set<() => void>();
  const timers = createMemoryTimers(db, outbox, () => notify(listeners));
  const sagas = createMemorySagas(db);
  let closed = false;

  /** `running`, or a retriable `timeout` once `timeoutMs` passed: the work is then left running, its handle closed by the caller. */
  async function withinDeadline<T>(running: Promise<T>): Promise<T> {
    let cancelDeadline = () => {};
    const deadline = new Promise<never>((_, reject) => {
      cancelDeadline = clock.setTimer(timeoutMs, () =>
        reject(new HeraldError(CoreErrors.timeout, `memoryStores: the transaction did not finish within ${timeoutMs} ms (transactionTimeoutMs); rolled back`, { retriable: true })),
      );
    });
    try {
      return await Promise.race([running, deadline]);
    } finally {
      cancelDeadline();
    }
  }

  async function read<T>(work: (tx: MemoryTx) => Promise<T>): Promise<T> {
    if (closed) throw new HeraldError(CoreErrors.closed, 'memory stores: read after close');
    const { tx, end } = db.beginRead();
    try {
      return await withinDeadline(work(tx));
    } finally {
      end();
    }
  }

  async function transaction<T>(work: (tx: MemoryTx) => Promise<T>): Promise<T> {
    if (closed) throw new HeraldError(CoreErrors.closed, 'memory stores: transaction after close');
    const { tx, state } = db.begin();
    let result: T;
    try {
      result = await withinDeadline(work(tx));
    } catch (error) {
      db.rollback(state);
      throw error;
    }
    let appended = 0;
    db.commit(state, (committed) => {
      for (const entry of committed.inbox) db.inbox.set(inboxKey(entry.group, entry.eventId), entry);
      appended = outbox.applyCommitted(committed);
      idempotency.applyCommitted(committed);
      timers.applyCommitted(committed);
      sagas.applyCommitted(committed);
      windows.applyCommitted(committed);
    });
    if (appended > 0) notify(listeners);
    return result;
  }

  return {
    transaction,
    read,
    outbox,
    inbox: createMemoryInbox(db),
    deadLetters: createMemoryDeadLetters(),
    idempotency,
    timers,
    sagas,
    windows,
    onAppended(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      listeners.clear();
    },
  };
}

function createMemoryInbox(db: MemoryDatabase): InboxStore<MemoryTx> {
  return {
    async markHandled(tx, entry) {
      const state = db.stateOf(tx);
      const key = inboxKey(entry.group, entry.eventId);
      if (db.inbox.has(key)) return false;
      // waits while another open transaction holds the same mark, then sees its outcome
      if (!(await db.lock(state, key)) || db.inbox.has(key)) return false;
      state.inbox.push({ group: entry.group, eventId: entry.eventId, handledAt: entry.handledAt });
      return true;
    },
    async findHandled(eventIds) {
      const wanted = new Set(eventIds);
      return [...db.inbox.values()].filter((e) => wanted.has(e.eventId));
    },
  };
}

const inboxKey = (group: string, eventId: string): string => `${group}\u0000${eventId}`;

function notify(listeners: Set<() => void>): void {
  for (const listener of listeners) {
    try {
      listener();
    } catch {
      // a listener's failure must not undo a committed transaction
    }
  }
}
