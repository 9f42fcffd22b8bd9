import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ErrorCodes } from '@herald/core';
import { openDatabase } from '../src/internal/database.js';
import { createReadRunner, type ReadRunnerDeps } from '../src/stores/readRunner.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('herald-read-runner-');
afterAll(() => tmp.remove());
let files = 0;

/** A file with table `t` holding 1, and a read runner on it. */
function setup(deps: Partial<ReadRunnerDeps> = {}) {
  const path = join(tmp.dir, `${++files}.db`);
  const db = openDatabase({ path, busyTimeoutMs: 1000 });
  db.exec('CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1)');
  db.close();
  return createReadRunner({ path, busyTimeoutMs: 1000, statementCacheSize: 10, maxConnections: 2, transactionTimeoutMs: 5000, flushed: async () => {}, ...deps });
}

function gate(): { readonly opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const count = (tx: { query<Row>(sql: string): Promise<Row[]> }) => tx.query<{ n: number }>('SELECT count(*) AS n FROM t').then((rows) => rows[0]!.n);

it('returns what a read found only once it is on disk (flushed)', async () => {
  const disk = gate();
  const reads = setup({ flushed: () => disk.opened });
  let settled = false;
  const reading = reads.run(count).then((n) => ((settled = true), n));
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(settled, 'before the flush').toBe(false);
  disk.open();
  expect(await reading).toBe(1);
  await reads.close();
});

it('runs at most maxConnections reads at once; the next waits for a connection', async () => {
  const reads = setup({ maxConnections: 2 });
  const release = gate();
  let started = 0;
  const running = Array.from({ length: 3 }, () =>
    reads.run(async (tx) => {
      started++;
      const n = await count(tx);
      await release.opened;
      return n;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(started).toBe(2);
  release.open();
  expect(await Promise.all(running)).toEqual([1, 1, 1]);
  expect(started).toBe(3);
  await reads.close();
});

it('ends a read past transactionTimeoutMs with a retriable timeout; its tx then refuses statements', async () => {
  const reads = setup({ transactionTimeoutMs: 50 });
  let late: Promise<unknown> | undefined;
  const slow = reads.run(async (tx) => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    late = count(tx);
    return late;
  });
  await expect(slow).rejects.toMatchObject({ code: ErrorCodes.timeout, retriable: true });
  await new Promise((resolve) => setTimeout(resolve, 150));
  await expect(late).rejects.toMatchObject({ code: ErrorCodes.transactionFinished });
  expect(await reads.run(count), 'its connection serves the next read').toBe(1);
  await reads.close();
});

it('refuses transaction control with transaction-control', async () => {
  const reads = setup();
  await expect(reads.run((tx) => tx.execute('COMMIT'))).rejects.toMatchObject({ code: 'transaction-control' });
  expect(await reads.run(count)).toBe(1);
  await reads.close();
});

it('close waits for the reads running, then refuses new ones with closed', async () => {
  const reads = setup();
  const release = gate();
  let finished = false;
  const running = reads.run(async (tx) => {
    await release.opened;
    const n = await count(tx);
    finished = true;
    return n;
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const closing = reads.close();
  await expect(reads.run(count)).rejects.toMatchObject({ code: ErrorCodes.closed });
  release.open();
  await closing;
  expect(finished).toBe(true);
  expect(await running).toBe(1);
});
