import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');
/**
 * How long the other connection holds the write lock when it lets go on its own: SQLite's busy
 * handler sleeping on this thread would stall its event loop about that long.
 */
const HOLD_MS = 3_000;
/**
 * Longest pause of the event loop tolerated: generous for a loaded machine, and still a third of
 * the stall the busy handler would cause (HOLD_MS, or the busy timeout of the last test).
 */
const LOOP_GAP_MS = 1_000;
/** Longer than HOLD_MS: the stores wait for the lock rather than fail. */
const WAIT_LONGER_MS = 10_000;

/**
 * Another connection, on another thread (as another process would be), holding the file's write
 * lock after writing `row`; it lets go after `holdMs` on its own clock, whatever this thread does,
 * or sooner when told (`release`). `released` settles once it committed and closed.
 */
async function holdWriteLock(path: string, holdMs: number, row: string): Promise<{ released: Promise<void>; release: () => void }> {
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const Database = require(workerData.module);
     const db = new Database(workerData.path);
     db.exec('BEGIN IMMEDIATE');
     db.prepare('INSERT INTO rows VALUES (?)').run(workerData.row);
     parentPort.postMessage('locked');
     let timer;
     const letGo = () => {
       if (!db.open) return;
       clearTimeout(timer);
       db.exec('COMMIT');
       db.close();
       parentPort.postMessage('released');
     };
     timer = setTimeout(letGo, workerData.holdMs);
     parentPort.on('message', (message) => message === 'release' && letGo());`,
    { eval: true, workerData: { module: BETTER_SQLITE3, path, holdMs, row } },
  );
  const released = new Promise<void>((resolve, reject) => {
    worker.on('message', (message) => message === 'released' && resolve());
    worker.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return { released: released.finally(() => worker.terminate()), release: () => worker.postMessage('release') };
}

/** The longest gap between turns of this thread's event loop while it runs. */
function loopWatch(): { stop: () => number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

/** The `name`s of table `rows` committed in the file at `path`, as another process sees them, in the order they were written. */
function committedInOrder(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[], string>('SELECT name FROM rows ORDER BY rowid').pluck().all();
  } finally {
    db.close();
  }
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

let counter = 0;
let path: string;
let stores: SqliteStores;

async function open(busyTimeoutMs: number): Promise<void> {
  path = join(tmp.dir, `lock-${++counter}.db`);
  stores = sqliteStores({ path, busyTimeoutMs });
  await stores.transaction((tx) => tx.execute('CREATE TABLE rows (name TEXT NOT NULL)'));
}
afterEach(() => stores.close());

describe("stores while another connection holds the file's write lock", () => {
  it('waits for it from the event loop, not in the busy handler, and commits once it is released', async () => {
    await open(WAIT_LONGER_MS);
    const { released } = await holdWriteLock(path, HOLD_MS, 'other');
    const watch = loopWatch();
    const seen = await stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['mine']);
      return tx.query<{ name: string }>('SELECT name FROM rows ORDER BY rowid');
    });
    // committed when it settled, and written after the other connection's commit: it waited for it
    expect(committedInOrder(path)).toEqual(['other', 'mine']);
    expect(seen).toEqual([{ name: 'other' }, { name: 'mine' }]);
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    await released;
  });

  it('lets a running transaction whose lock another connection took meanwhile wait for it at its next statement', async () => {
    await open(WAIT_LONGER_MS);
    const gate = signal();
    const inserted = signal();
    const slow = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-1']);
      inserted.fire();
      await gate.promise;
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-2']);
      return tx.query<{ name: string }>('SELECT name FROM rows ORDER BY rowid');
    });
    await inserted.promise;
    // the write lock is yielded while the work awaits: the other connection takes it (its BEGIN waits in its own thread until then)
    const { released } = await holdWriteLock(path, HOLD_MS, 'other');
    const watch = loopWatch();
    gate.fire();
    const seen = await slow;
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    expect(seen).toEqual([{ name: 'other' }, { name: 'slow-1' }, { name: 'slow-2' }]);
    expect(committedInOrder(path)).toEqual(['other', 'slow-1', 'slow-2']);
    await released;
  });

  it('commits a transaction that finished while the lock was taken, once it is released', async () => {
    await open(WAIT_LONGER_MS);
    const gate = signal();
    const inserted = signal();
    const finished = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['finished']);
      inserted.fire();
      await gate.promise; // then finishes with no statement since the lock was yielded
    });
    await inserted.promise;
    const { released } = await holdWriteLock(path, HOLD_MS, 'other');
    const watch = loopWatch();
    gate.fire();
    await finished;
    // settled once committed, and committed after the other connection's commit, not before nor instead
    expect(committedInOrder(path)).toEqual(['other', 'finished']);
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    await released;
  });

  it('fails with a retriable store-busy after busyTimeoutMs, the event loop turning meanwhile, and works again once the lock is free', async () => {
    // longer than LOOP_GAP_MS: the busy handler sleeping on this thread would stall it that long
    const busyTimeoutMs = 1_500;
    await open(busyTimeoutMs);
    // held until told: the transaction below must give up while it is still held
    const { released, release } = await holdWriteLock(path, 6 * busyTimeoutMs, 'other');
    let freed = false;
    void released.then(() => (freed = true));
    const watch = loopWatch();
    const started = performance.now();
    await expect(stores.transaction((tx) => tx.execute('INSERT INTO rows VALUES ($1)', ['mine']))).rejects.toMatchObject({ code: 'store-busy', retriable: true });
    const waited = performance.now() - started;
    expect(freed, 'failed while the lock was still held, not when it was freed').toBe(false);
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    expect(waited, 'it waited busyTimeoutMs before failing').toBeGreaterThanOrEqual(busyTimeoutMs - 1);
    release();
    await released;
    await stores.transaction((tx) => tx.execute('INSERT INTO rows VALUES ($1)', ['later']));
    expect(committedInOrder(path)).toEqual(['other', 'later']);
  });
});
