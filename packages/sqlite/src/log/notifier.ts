import type Database from 'better-sqlite3';
import type { Logger } from '@herald/core';
import { logReads } from '../internal/storeErrors.js';

/** Wakes partition loops waiting for records past their position. */
export interface Notifier {
  /** Resolves once the partition's head is past `position`, or when `signal` aborts. */
  wait(pid: number, position: number, signal: AbortSignal): Promise<void>;
  /** This process committed records: the partitions' new heads. */
  published(heads: ReadonlyMap<number, number>): void;
  /**
   * The newest head of a partition this notifier knows of (told by `published`, or read while
   * polling); 0 when none. Another connection's commit since the last poll may have moved it on.
   */
  head(pid: number): number;
  /** Another connection just committed records: look now rather than at the next poll. */
  poke(): void;
  close(): void;
}

interface Waiter {
  readonly position: number;
  readonly wake: () => void;
}

/** Even without a visible change, heads are re-read this often (belt and braces). */
const SAFETY_RECHECK_MS = 1000;
const POLL = 'log: polling for commits';

/**
 * In-process publishes wake their partitions' waiters directly. Publishes by other processes (or
 * other connections) are noticed by polling `PRAGMA data_version` every `pollMs` while someone
 * waits: it changes only when another connection committed, and costs no I/O, so an idle poll is a
 * few microseconds. When it moves, the waiting partitions' heads are read and their waiters woken.
 * A poll that fails (a damaged or unreadable file) is logged once until one succeeds again, and
 * tried again at the next tick; its waiters keep waiting.
 */
export function createNotifier(db: Database.Database, options: { pollMs: number; logger: Logger }): Notifier {
  const dataVersion = logReads.guard(db.prepare<[], number>('PRAGMA data_version').pluck(), POLL);
  const headStmt = logReads.guard(db.prepare<[number], number>('SELECT next_offset FROM herald_partitions WHERE pid = ?').pluck(), POLL);
  const waiters = new Map<number, Set<Waiter>>();
  const heads = new Map<number, number>();
  let timer: NodeJS.Timeout | undefined;
  let lastVersion = -1;
  let lastCheck = 0;
  let fresh = false;
  let closed = false;
  let failing = false;

  function wakeUpTo(pid: number, head: number): void {
    if (head > (heads.get(pid) ?? 0)) heads.set(pid, head);
    const set = waiters.get(pid);
    if (!set) return;
    for (const waiter of set) if (waiter.position < head) waiter.wake();
  }

  function tick(): void {
    if (closed) return;
    if (waiters.size === 0) {
      clearInterval(timer);
      timer = undefined;
      return;
    }
    try {
      poll();
      failing = false;
    } catch (error) {
      // thrown from a timer (or from poke), it would end the process
      fresh = true;
      if (!failing) options.logger.warn(`log: polling ${db.name} for other connections' commits failed; consumers waiting at a partition's end see them once it succeeds again`, { error });
      failing = true;
    }
  }

  function poll(): void {
    const version = dataVersion.get()!;
    const now = Date.now();
    if (version === lastVersion && !fresh && now - lastCheck < SAFETY_RECHECK_MS) return;
    for (const pid of [...waiters.keys()]) wakeUpTo(pid, headStmt.get(pid) ?? 0);
    lastVersion = version;
    lastCheck = now;
    fresh = false;
  }

  return {
    wait(pid, position, signal) {
      if (closed || signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        let set = waiters.get(pid);
        if (!set) waiters.set(pid, (set = new Set()));
        const waiter: Waiter = {
          position,
          wake() {
            set.delete(waiter);
            if (set.size === 0 && waiters.get(pid) === set) waiters.delete(pid);
            signal.removeEventListener('abort', waiter.wake);
            resolve();
          },
        };
        set.add(waiter);
        signal.addEventListener('abort', waiter.wake, { once: true });
        // a commit by another connection between the caller's read and now is caught on the next tick
        fresh = true;
        if (!timer) {
          timer = setInterval(tick, options.pollMs);
          timer.unref();
        }
      });
    },
    published(heads) {
      for (const [pid, head] of heads) wakeUpTo(pid, head);
    },
    head: (pid) => heads.get(pid) ?? 0,
    poke() {
      fresh = true;
      tick();
    },
    close() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
      for (const set of [...waiters.values()]) for (const waiter of [...set]) waiter.wake();
    },
  };
}
