import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { systemClock } from '@herald/core';
import { openDatabase } from '../src/internal/database.js';
import { migrate } from '../src/internal/migrate.js';
import { LOG_MIGRATIONS } from '../src/log/schema.js';
import { createWriteQueue, type WriteContext } from '../src/log/writeQueue.js';

function setup(durable: () => Promise<void> = () => Promise.resolve(), db: Database.Database = new Database(':memory:'), busyTimeoutMs = 5000) {
  migrate(db, 'log', LOG_MIGRATIONS);
  db.exec("INSERT INTO herald_partitions (pid, topic, partition) VALUES (1, 't', 0)");
  const commits: Map<number, number>[] = [];
  const queue = createWriteQueue({ db, clock: systemClock, busyTimeoutMs, durable, begin: () => {}, rolledBack: () => {}, committed: (heads) => void commits.push(new Map(heads)) });
  return { db, queue, commits };
}

/** A log file and a second connection to it (another thread's or process's). */
function twoConnections(busyTimeoutMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-write-queue-'));
  const path = join(dir, 'log.db');
  const { db, queue } = setup(undefined, openDatabase({ path, busyTimeoutMs }), busyTimeoutMs);
  const other = openDatabase({ path, busyTimeoutMs });
  return {
    db,
    queue,
    other,
    close() {
      other.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** How many 1 ms timers fired while `ms` passed: 0 when the event loop was blocked all along. */
async function timerTicks(ms: number): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(timer);
  return ticks;
}

describe('log write queue (group commit)', () => {
  it('tells onCommit the result at COMMIT, before the fsync settles the promise', async () => {
    let finishSync: () => void = () => {};
    const { db, queue } = setup(() => new Promise<void>((resolve) => (finishSync = resolve)));
    const heard: { result: number; inTransaction: boolean; visible: number }[] = [];
    let settled = false;
    const done = queue
      .enqueue((ctx) => ctx.reserve(1, 10), {
        onCommit: (result) => heard.push({ result, inTransaction: db.inTransaction, visible: (db.prepare('SELECT next_offset FROM herald_partitions WHERE pid = 1').pluck().get() as number) }),
      })
      .then((offset) => ((settled = true), offset));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // committed and visible, not yet durable: heard of, not settled
    expect(heard).toEqual([{ result: 0, inTransaction: false, visible: 1 }]);
    expect(settled).toBe(false);
    finishSync();
    expect(await done).toBe(0);
    // an operation that fails is never heard of
    const failed: unknown[] = [];
    await expect(queue.enqueue(() => { throw new Error('boom'); }, { onCommit: (result) => failed.push(result) })).rejects.toThrow('boom');
    expect(failed).toEqual([]);
  });

  it('runs operations queued in one turn in one transaction and commits once', async () => {
    const { db, queue, commits } = setup();
    const contexts: WriteContext[] = [];
    const offsets = await Promise.all(
      Array.from({ length: 5 }, () =>
        queue.enqueue((ctx) => {
          contexts.push(ctx);
          expect(db.inTransaction).toBe(true);
          return ctx.reserve(1, 10);
        }),
      ),
    );
    expect(offsets).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(contexts).size).toBe(1);
    expect(commits).toEqual([new Map([[1, 5]])]);
    expect(db.prepare('SELECT next_offset, bytes FROM herald_partitions WHERE pid = 1').get()).toEqual({ next_offset: 5, bytes: 50 });
  });

  it('fails only the faulty operation: the batch is retried one operation per transaction', async () => {
    const { db, queue } = setup();
    db.exec('CREATE TABLE t (v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const results = await Promise.allSettled([
      queue.enqueue(() => insert.run('a')),
      queue.enqueue(() => insert.run(null)),
      queue.enqueue((ctx) => ctx.reserve(1, 1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT v FROM t').all()).toEqual([{ v: 'a' }]);
    expect(db.prepare('SELECT next_offset FROM herald_partitions WHERE pid = 1').get()).toEqual({ next_offset: 1 });
  });

  it('acknowledges a commit only once it is durable, and fails it when the fsync fails', async () => {
    let syncs = 0;
    let finishSync: (error?: Error) => void = () => {};
    const { queue, commits } = setup(() => {
      syncs++;
      return new Promise<void>((resolve, reject) => (finishSync = (error) => (error ? reject(error) : resolve())));
    });
    let acknowledged = false;
    const first = queue.enqueue((ctx) => ctx.reserve(1, 1)).then((offset) => ((acknowledged = true), offset));
    while (syncs === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(acknowledged).toBe(false);
    expect(commits).toEqual([]);
    finishSync();
    await expect(first).resolves.toBe(0);
    expect(commits).toEqual([new Map([[1, 1]])]);
    const second = queue.enqueue((ctx) => ctx.reserve(1, 1));
    while (syncs === 1) await new Promise((resolve) => setImmediate(resolve));
    finishSync(new Error('EIO'));
    await expect(second).rejects.toMatchObject({ code: 'broker-unavailable', retriable: true });
  });

  it('waits for another connection to release the write lock without blocking the event loop', async () => {
    const c = twoConnections(5000);
    try {
      c.other.exec('BEGIN IMMEDIATE');
      const offset = c.queue.enqueue((ctx) => ctx.reserve(1, 1));
      // SQLite's busy handler would sleep on this thread: no timer could fire, and the lock holder
      // (this thread too) could never commit
      expect(await timerTicks(40)).toBeGreaterThan(5);
      // the queue's connection has no busy handler, and its reads need none: they see the last commit
      expect(c.db.prepare('SELECT next_offset FROM herald_partitions WHERE pid = 1').get()).toEqual({ next_offset: 0 });
      c.other.exec('COMMIT');
      await expect(offset).resolves.toBe(0);
      expect(c.other.prepare('SELECT next_offset FROM herald_partitions WHERE pid = 1').get()).toEqual({ next_offset: 1 });
    } finally {
      c.close();
    }
  });

  it('fails what is queued, retriable, when the lock outlives the busy timeout, and commits once it is free', async () => {
    const c = twoConnections(50);
    try {
      c.other.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      const results = await Promise.allSettled([c.queue.enqueue((ctx) => ctx.reserve(1, 1)), c.queue.enqueue((ctx) => ctx.reserve(1, 1))]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(50);
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'broker-unavailable', retriable: true });
      }
      c.other.exec('COMMIT');
      await expect(c.queue.enqueue((ctx) => ctx.reserve(1, 1))).resolves.toBe(0);
    } finally {
      c.close();
    }
  });

  it('fails a write on a full disk with a retriable broker-unavailable naming the file, and writes again once there is room', async () => {
    const c = twoConnections(1000);
    try {
      c.db.exec('CREATE TABLE big (v TEXT)');
      const pages = c.db.pragma('page_count', { simple: true }) as number;
      c.db.pragma(`max_page_count = ${pages + 4}`); // as a disk with room for a few pages
      const insert = c.db.prepare('INSERT INTO big VALUES (?)');
      const full = await c.queue.enqueue(() => insert.run('x'.repeat(50_000))).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(full).toMatchObject({ code: 'broker-unavailable', retriable: true, cause: { code: 'SQLITE_FULL' }, message: expect.stringContaining(c.db.name) });
      c.db.pragma(`max_page_count = ${pages + 100}`);
      await expect(c.queue.enqueue(() => insert.run('x'.repeat(50_000)).changes)).resolves.toBe(1);
    } finally {
      c.close();
    }
  });

  it('waits for queued work on close, then refuses more', async () => {
    const { queue } = setup();
    const pending = queue.enqueue((ctx) => ctx.reserve(1, 1));
    await queue.close();
    await expect(pending).resolves.toBe(0);
    await expect(queue.enqueue(() => 1)).rejects.toMatchObject({ code: 'closed' });
  });
});
