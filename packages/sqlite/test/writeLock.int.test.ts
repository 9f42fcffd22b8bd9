import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { committedNames, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');
/** Longest pause of the event loop tolerated (a loaded machine), well under the locks held below (≥ 500 ms). */
const LOOP_GAP_MS = 250;

/**
 * Another connection, on another thread (as another process would be), holding the file's write
 * lock for `holdMs` after writing `row`; it lets go on its own clock, whatever this thread does.
 */
async function holdWriteLock(path: string, holdMs: number, row: string): Promise<{ released: Promise<void> }> {
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const Database = require(workerData.module);
     const db = new Database(workerData.path);
     db.exec('BEGIN IMMEDIATE');
     db.prepare('INSERT INTO rows VALUES (?)').run(workerData.row);
     parentPort.postMessage('locked');
     setTimeout(() => { db.exec('COMMIT'); db.close(); parentPort.postMessage('released'); }, workerData.holdMs);`,
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
  return { released: released.finally(() => worker.terminate()) };
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
    await open(5000);
    const { released } = await holdWriteLock(path, 600, 'other');
    const watch = loopWatch();
    const started = performance.now();
    await stores.transaction((tx) => tx.execute('INSERT INTO rows VALUES ($1)', ['mine']));
    const waited = performance.now() - started;
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    await released;
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(committedNames(path)).toEqual(['mine', 'other']);
  });

  it('lets a running transaction whose lock another connection took meanwhile wait for it at its next statement', async () => {
    await open(5000);
    let resume!: () => void;
    const gate = new Promise<void>((resolve) => (resume = resolve));
    const slow = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-1']);
      await gate;
      await tx.execute('INSERT INTO rows VALUES ($1)', ['slow-2']);
      return tx.query<{ name: string }>('SELECT name FROM rows ORDER BY name');
    });
    await tick(30); // the write lock was yielded while the work awaits
    const { released } = await holdWriteLock(path, 500, 'other');
    const watch = loopWatch();
    resume();
    const seen = await slow;
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    await released;
    expect(seen).toEqual([{ name: 'other' }, { name: 'slow-1' }, { name: 'slow-2' }]);
    expect(committedNames(path)).toEqual(['other', 'slow-1', 'slow-2']);
  });

  it('commits a transaction that finished while the lock was taken, once it is released', async () => {
    await open(5000);
    let resume!: () => void;
    const gate = new Promise<void>((resolve) => (resume = resolve));
    let settled = false;
    const finished = stores
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO rows VALUES ($1)', ['finished']);
        await gate; // then finishes with no statement since the lock was yielded
      })
      .finally(() => (settled = true));
    await tick(30);
    const { released } = await holdWriteLock(path, 500, 'other');
    const watch = loopWatch();
    resume();
    await tick(100);
    expect(settled).toBe(false);
    expect(committedNames(path)).toEqual([]);
    await finished;
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    await released;
    expect(committedNames(path)).toEqual(['finished', 'other']);
  });

  it('fails with a retriable store-busy after busyTimeoutMs, the event loop turning meanwhile, and works again once the lock is free', async () => {
    await open(600);
    const { released } = await holdWriteLock(path, 1500, 'other');
    const watch = loopWatch();
    const started = performance.now();
    await expect(stores.transaction((tx) => tx.execute('INSERT INTO rows VALUES ($1)', ['mine']))).rejects.toMatchObject({ code: 'store-busy', retriable: true });
    const waited = performance.now() - started;
    expect(watch.stop()).toBeLessThan(LOOP_GAP_MS);
    expect(waited).toBeGreaterThanOrEqual(590);
    expect(waited).toBeLessThan(1400);
    await released;
    await stores.transaction((tx) => tx.execute('INSERT INTO rows VALUES ($1)', ['later']));
    expect(committedNames(path)).toEqual(['later', 'other']);
  });
});
