import type Database from 'better-sqlite3';
import { SqliteErrors } from '../errors.js';
import { CoreErrors, HeraldError, type Clock } from '@herald/core';
import { isBusyError, toLogError } from '../internal/storeErrors.js';

/** What an operation sees inside the shared write transaction. */
export interface WriteContext {
  /** The transaction's time (ms), the same for every operation in it. */
  readonly now: number;
  /** The partition's head (next offset) as of this point of the transaction. */
  head(pid: number): number;
  /** Reserves the next offset of a partition for a record of `size`, and returns it. */
  reserve(pid: number, size: number): number;
}

export interface EnqueueOptions<T> {
  /** Wait for the fsync (default true); see {@link WriteQueue.enqueue}. */
  readonly sync?: boolean;
  /**
   * Called with the operation's result right after COMMIT, before the fsync: what was written is
   * visible to every connection from then on (as it is to a reader polling the file).
   */
  readonly onCommit?: (result: T) => void;
}

/** A unit of work run synchronously inside the shared transaction. */
export type WriteOp<T> = (ctx: WriteContext) => T;

export interface WriteQueue {
  /**
   * Queues `op` for the next group commit. It settles once the commit is on disk, or right after
   * COMMIT with `sync: false` (for writes whose loss in a power cut is harmless: heartbeats,
   * leases, offset commits, which at worst cause a redelivery, and retention).
   */
  enqueue<T>(op: WriteOp<T>, options?: EnqueueOptions<T>): Promise<T>;
  /** Flushes what is queued, then refuses new work. */
  close(): Promise<void>;
  /** Refuses new work and fails what is queued, at once (a simulated crash). */
  abort(): void;
}

export interface WriteQueueDeps {
  readonly db: Database.Database;
  readonly clock: Clock;
  /**
   * How long a group commit waits for another connection's write lock before it fails. The queue
   * tries the lock without SQLite's busy handler: `db`'s busy timeout is set to 0 for good when the
   * queue is created (see {@link createWriteQueue}).
   */
  readonly busyTimeoutMs: number;
  /** Resolves once what was committed is on disk (see `createWalSync`). */
  readonly durable: () => Promise<void>;
  /** Called inside the transaction before the first operation (topology refresh). */
  readonly begin: () => void;
  /** Called after a rollback (drop caches that may hold rolled-back state). */
  readonly rolledBack: () => void;
  /** Called after each commit, once it is durable, with the heads that moved. */
  readonly committed: (heads: ReadonlyMap<number, number>) => void;
}

interface Pending {
  readonly op: WriteOp<unknown>;
  readonly sync: boolean;
  readonly onCommit: ((result: unknown) => void) | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Head {
  next: number;
  bytes: number;
  readonly loaded: number;
}

/**
 * Group commit for the log. Operations queued in the same turn of the event loop run in one
 * `BEGIN IMMEDIATE ... COMMIT`, so they share one fsync; every promise settles after the commit.
 * Promises settle once the commit is durable (the WAL fsync runs off the event loop, so the next
 * batch may already be committing meanwhile). Partition heads are read once per transaction and
 * written back once at its end. If an operation
 * throws, the transaction is rolled back and each operation is run again in its own transaction,
 * so only the faulty one fails.
 */
export function createWriteQueue(deps: WriteQueueDeps): WriteQueue {
  const { db, clock } = deps;
  const readHead = db.prepare<[number], { next_offset: number }>('SELECT next_offset FROM herald_partitions WHERE pid = ?');
  const writeHead = db.prepare('UPDATE herald_partitions SET next_offset = ?, bytes = bytes + ? WHERE pid = ?');
  const beginStmt = db.prepare('BEGIN IMMEDIATE');
  const commitStmt = db.prepare('COMMIT');
  // No busy handler from now on: `BEGIN IMMEDIATE` fails at once when another connection holds the
  // write lock, and the queue tries again from the event loop (tryBegin). Toggling the timeout
  // around each BEGIN instead cost two PRAGMA compilations per group commit (~5 µs; ~4% of the app
  // thread's time per event with one event per transaction). The connection's reads need no
  // busy handler: in WAL mode a read waits for nothing but a crash recovery, which happens at open
  // (the caller sets up the file before creating the queue), never under an open connection.
  db.pragma('busy_timeout = 0');
  /** SQLite's failures as the log reports them (see `toLogError`). */
  const wrap = (error: unknown) => toLogError(error, { path: db.name, context: 'log' });
  let queue: Pending[] = [];
  let scheduled = false;
  /** While another connection holds the write lock: when the wait began, and the attempts so far. */
  let locked: { since: number; attempts: number } | undefined;
  let closed = false;
  let idle: (() => void) | undefined;
  const syncing = new Set<Promise<void>>();

  /** Settles after the commit is durable (or at once for `sync: false`); a failed fsync fails them (retriable). */
  function acknowledge(pending: readonly Pending[], results: readonly unknown[], moved: ReadonlyMap<number, number>): void {
    for (let i = 0; i < pending.length; i++) {
      const onCommit = pending[i]!.onCommit;
      if (!onCommit) continue;
      try {
        onCommit(results[i]);
      } catch {
        // a listener's failure is not the write's: it committed
      }
    }
    const waiting: number[] = [];
    pending.forEach((p, i) => (p.sync ? waiting.push(i) : p.resolve(results[i])));
    if (waiting.length === 0) {
      deps.committed(moved);
      return;
    }
    const done = deps.durable().then(
      () => {
        deps.committed(moved);
        for (const i of waiting) pending[i]!.resolve(results[i]);
      },
      (cause: unknown) => {
        const failure = new HeraldError(CoreErrors.brokerUnavailable, 'log: fsync of the committed records failed; they may or may not be on disk', { retriable: true, cause });
        for (const i of waiting) pending[i]!.reject(failure);
      },
    );
    syncing.add(done);
    void done.finally(() => syncing.delete(done));
  }

  function context(heads: Map<number, Head>): WriteContext {
    const now = clock.now();
    const load = (pid: number): Head => {
      let head = heads.get(pid);
      if (!head) {
        const row = readHead.get(pid);
        if (!row) throw new HeraldError(SqliteErrors.unknownPartition, `log: partition id ${pid} does not exist`);
        head = { next: row.next_offset, bytes: 0, loaded: row.next_offset };
        heads.set(pid, head);
      }
      return head;
    };
    return {
      now,
      head: (pid) => load(pid).next,
      reserve(pid, size) {
        const head = load(pid);
        head.bytes += size;
        return head.next++;
      },
    };
  }

  /**
   * Takes the write lock if it is free. Another connection holding it (the relay thread appending,
   * another process) would make SQLite's busy handler sleep on this thread, milliseconds at a time:
   * 20-35 ms stalls of the application's event loop were measured behind a relay thread's append.
   * So the lock is tried without waiting and the queue tries again soon, the event loop free
   * meanwhile; after `busyTimeoutMs` of trying, what is queued fails as before.
   */
  function tryBegin(): boolean {
    try {
      beginStmt.run();
      locked = undefined;
      return true;
    } catch (error) {
      if (!isBusyError(error) || (locked && performance.now() - locked.since >= deps.busyTimeoutMs)) {
        locked = undefined;
        throw error;
      }
      locked ??= { since: performance.now(), attempts: 0 };
      locked.attempts++;
      scheduled = true;
      // the holder is often another thread's short transaction: look again at once a few times, then every millisecond
      if (locked.attempts <= 3) setImmediate(flush);
      else setTimeout(flush, 1);
      return false;
    }
  }

  /** Runs `ops` in one transaction (begun already when `begun`); returns their results, or throws after rolling back. */
  function runTransaction(ops: readonly WriteOp<unknown>[], begun = false): { results: unknown[]; moved: Map<number, number> } {
    const heads = new Map<number, Head>();
    if (!begun) beginStmt.run();
    try {
      deps.begin();
      const ctx = context(heads);
      const results = ops.map((op) => op(ctx));
      const moved = new Map<number, number>();
      for (const [pid, head] of heads) {
        if (head.next === head.loaded) continue;
        writeHead.run(head.next, head.bytes, pid);
        moved.set(pid, head.next);
      }
      commitStmt.run();
      return { results, moved };
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      deps.rolledBack();
      throw error;
    }
  }

  function flush(): void {
    scheduled = false;
    if (closed) return;
    if (queue.length === 0) return;
    try {
      if (!tryBegin()) return;
    } catch (error) {
      const failed = queue;
      queue = [];
      const failure = wrap(error);
      failed.forEach((p) => p.reject(failure));
      idle?.();
      return;
    }
    const batch = queue;
    queue = [];
    try {
      const { results, moved } = runTransaction(batch.map((p) => p.op), true);
      acknowledge(batch, results, moved);
    } catch (error) {
      if (batch.length === 1 || isBusyError(error)) {
        const failure = wrap(error);
        batch.forEach((p) => p.reject(failure));
      } else {
        // rare (an operation threw): each runs alone, and here BEGIN may wait in SQLite's busy
        // handler as it did before, rather than fail healthy operations for a lock held a moment
        db.pragma(`busy_timeout = ${Math.round(deps.busyTimeoutMs)}`);
        try {
          for (const pending of batch) runAlone(pending);
        } finally {
          db.pragma('busy_timeout = 0');
        }
      }
    }
    if (queue.length === 0) idle?.();
  }

  function runAlone(pending: Pending): void {
    try {
      const { results, moved } = runTransaction([pending.op]);
      acknowledge([pending], results, moved);
    } catch (error) {
      pending.reject(wrap(error));
    }
  }

  return {
    enqueue<T>(op: WriteOp<T>, options?: EnqueueOptions<T>): Promise<T> {
      if (closed) return Promise.reject(new HeraldError(CoreErrors.closed, 'log: closed'));
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, sync: options?.sync ?? true, onCommit: options?.onCommit as ((result: unknown) => void) | undefined, resolve: resolve as (value: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    async close() {
      if (queue.length > 0) await new Promise<void>((resolve) => (idle = resolve));
      closed = true;
      await Promise.all([...syncing]);
    },
    abort() {
      closed = true;
      const dropped = queue;
      queue = [];
      for (const pending of dropped) pending.reject(new HeraldError(CoreErrors.closed, 'log: crashed'));
      idle?.();
    },
  };
}
