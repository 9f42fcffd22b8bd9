import { mkdirSync, openSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { HeraldError, type Logger } from '@herald/core';
import { sqliteEngine, sqliteLog, sqliteStores, type SqliteStores } from '@herald/sqlite';
import { createReadStatements } from '../src/stores/readStatements.js';
import { recordingSink, tempDir, waitFor } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
let counter = 0;

async function withStores(test: (stores: SqliteStores, path: string) => Promise<void>): Promise<void> {
  const path = join(tmp.dir, `errors-${++counter}.db`);
  // no background checkpoints: a test that damages the file decides what is in it
  const stores = sqliteStores({ path, maintenance: false });
  try {
    await stores.transaction((tx) => tx.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL)'));
    await test(stores, path);
  } finally {
    await stores.close();
  }
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describe("SQLite's failures, mapped to the stores' error codes", () => {
  it('refuses a constraint violation with a store-constraint that is not retried, also when the work catches it', () =>
    withStores(async (stores) => {
      await stores.transaction((tx) => tx.execute('INSERT INTO items VALUES ($1, $2)', [1, 'a']));
      const duplicate = await failure(stores.transaction((tx) => tx.execute('INSERT INTO items VALUES ($1, $2)', [1, 'b'])));
      expect(duplicate).toMatchObject({ code: 'store-constraint', retriable: false, details: { sqliteCode: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, cause: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
      expect((duplicate as Error).message).toContain('UNIQUE constraint failed: items.id');
      let caught: unknown;
      await stores.transaction(async (tx) => {
        caught = await failure(tx.execute('INSERT INTO items (id) VALUES ($1)', [2]));
        await tx.execute('INSERT INTO items VALUES ($1, $2)', [3, 'kept']);
      });
      expect(caught).toMatchObject({ code: 'store-constraint', retriable: false, cause: { code: 'SQLITE_CONSTRAINT_NOTNULL' } });
      expect(await stores.transaction((tx) => tx.query('SELECT id FROM items ORDER BY id'))).toEqual([{ id: 1 }, { id: 3 }]);
    }));

  it('makes a constraint violation retriable when another transaction’s uncommitted row is in the way, which may still roll back', () =>
    withStores(async (stores) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      // another transaction wrote row 1 and has not finished: it will fail
      const other = failure(
        stores.transaction(async (tx) => {
          await tx.execute('INSERT INTO items VALUES ($1, $2)', [1, 'theirs']);
          await held;
          throw new Error('the other transaction fails');
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 2));
      const mine = await failure(stores.transaction((tx) => tx.execute('INSERT INTO items VALUES ($1, $2)', [1, 'mine'])));
      release();
      expect(await other).toMatchObject({ message: 'the other transaction fails' });
      expect(mine).toMatchObject({ code: 'store-constraint', retriable: true, cause: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
      // run again, as the pipeline does with a retriable failure, it goes through
      await stores.transaction((tx) => tx.execute('INSERT INTO items VALUES ($1, $2)', [1, 'mine']));
      expect(await stores.transaction((tx) => tx.query('SELECT v FROM items'))).toEqual([{ v: 'mine' }]);
    }));

  it('refuses SQL SQLite cannot run with a store-failed that is not retried', () =>
    withStores(async (stores) => {
      await expect(stores.transaction((tx) => tx.execute('INSERT INTO missing VALUES (1)'))).rejects.toMatchObject({
        code: 'store-failed',
        retriable: false,
        cause: { code: 'SQLITE_ERROR' },
        message: expect.stringContaining('no such table: missing'),
      });
      await expect(stores.transaction((tx) => tx.query('SELEC 1'))).rejects.toMatchObject({ code: 'store-failed', retriable: false });
    }));

  it('fails a transaction SQLite rolled back on a full disk with a retriable store-unavailable naming the file, keeping the others', () =>
    withStores(async (stores, path) => {
      // the file may grow by a few pages only: SQLite then fails a write with SQLITE_FULL and rolls
      // the whole physical transaction back, as on a full disk
      const [{ page_count: pages }] = await stores.transaction((tx) => tx.query<{ page_count: number }>('PRAGMA page_count'));
      await stores.transaction((tx) => tx.query(`PRAGMA max_page_count = ${pages + 8}`));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const small = stores.transaction(async (tx) => {
        await tx.execute('INSERT INTO items VALUES ($1, $2)', [1, 'small']);
        await gate;
      });
      const big = failure(
        stores.transaction(async (tx) => {
          try {
            for (let i = 0; i < 100; i++) await tx.execute('INSERT INTO items (v) VALUES ($1)', ['x'.repeat(20_000)]);
          } finally {
            release();
          }
        }),
      );
      expect(await big).toMatchObject({ code: 'store-unavailable', retriable: true, details: { path, sqliteCode: 'SQLITE_FULL' }, message: expect.stringContaining(path) });
      await small;
      expect(await stores.transaction((tx) => tx.query('SELECT id, v FROM items'))).toEqual([{ id: 1, v: 'small' }]);
    }));

  it('refuses to open a file that is not a database, or is damaged, with store-corrupt naming it', async () => {
    const garbage = join(tmp.dir, 'garbage.db');
    writeFileSync(garbage, 'not a database, just bytes '.repeat(200));
    expect(failureOf(() => sqliteStores({ path: garbage }))).toMatchObject({ code: 'store-corrupt', retriable: false, cause: { code: 'SQLITE_NOTADB' }, message: expect.stringContaining(garbage) });

    const damaged = join(tmp.dir, 'damaged.db');
    const db = new Database(damaged);
    db.exec('CREATE TABLE filler (v TEXT)');
    db.prepare('INSERT INTO filler VALUES (?)').run('v'.repeat(20_000));
    db.close();
    const fd = openSync(damaged, 'r+');
    writeSync(fd, Buffer.alloc(1000, 0xab), 0, 1000, 100); // the schema's page, past the file header
    closeSync(fd);
    expect(failureOf(() => sqliteStores({ path: damaged }))).toMatchObject({ code: 'store-corrupt', retriable: false, cause: { code: 'SQLITE_CORRUPT' }, message: expect.stringContaining(damaged) });
  });

  it('refuses a data directory that is a file, and a file that is a directory, with HeraldErrors naming them', () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'x');
    expect(failureOf(() => sqliteEngine({ dataDir: file }))).toMatchObject({ code: 'invalid-options', retriable: false, message: expect.stringContaining(file) });
    const directory = join(tmp.dir, 'dir.db');
    mkdirSync(directory);
    expect(failureOf(() => sqliteStores({ path: directory }))).toMatchObject({ code: 'store-unavailable', cause: { code: 'SQLITE_CANTOPEN' }, message: expect.stringContaining(directory) });
  });
});

describe("SQLite's failures of the reads outside transactions, mapped as theirs", () => {
  it('fails every read of the stores on a damaged file with a store-corrupt naming the read and the file, not SQLite’s error', () =>
    withStores(async (stores, path) => {
      const reads: [context: string, read: () => Promise<unknown>][] = [
        ['dead letters: list', () => stores.deadLetters.list({ group: 'billing' })],
        ['dead letters: isKeyParked', () => stores.deadLetters.isKeyParked('billing', 'orders', 'order-1')],
        ['dead letters: page', () => stores.deadLetters.page({ group: 'billing' })],
        ['dead letters: count', () => stores.deadLetters.count({ group: 'billing' })],
        ['dead letters: groups', () => stores.deadLetters.groups()],
        ['outbox: findByCorrelation', () => stores.outbox.findByCorrelation('c-1')],
        ['outbox: backlog', () => stores.outbox.backlog()],
        ['outbox: claim', () => stores.outbox.claim({ relayId: 'relay-1', limit: 10, leaseMs: 1000 })],
        ['inbox: findHandled', () => stores.inbox.findHandled(['e-1'])],
        ['windows: read', () => stores.windows.read('totals')],
        ['windows: partitions', () => stores.windows.partitions('totals')],
        ['sagas: find', () => stores.sagas.find('order', 'o-1')],
        ['timers: find', () => stores.timers.find(['t-1'])],
      ];
      for (const [, read] of reads) await read();

      damage(path);
      for (const [context, read] of reads) {
        const error = await failure(read());
        expect(error, context).toBeInstanceOf(HeraldError);
        expect(error, context).toMatchObject({
          code: 'store-corrupt',
          retriable: false,
          details: { path, sqliteCode: expect.stringMatching(/^SQLITE_CORRUPT/) },
          cause: { code: expect.stringMatching(/^SQLITE_CORRUPT/) },
          message: expect.stringContaining(`${context}: ${path} is damaged`),
        });
      }
      // the key is not answered from the counts cached before the file changed
      await expect(stores.deadLetters.isKeyParked('billing', 'orders', 'order-1')).rejects.toMatchObject({ code: 'store-corrupt' });
    }));

  it('fails reads of a table dropped under the stores with a store-failed naming the read, also when the read is prepared then', () =>
    withStores(async (stores, path) => {
      await stores.inbox.findHandled(['e-1']);
      const other = new Database(path);
      other.exec('DROP TABLE herald_inbox; DROP TABLE herald_dead_letters');
      other.close();
      const failed = (context: string, table: string) => ({
        code: 'store-failed',
        retriable: false,
        details: { path, sqliteCode: 'SQLITE_ERROR' },
        message: expect.stringContaining(`${context}: no such table: ${table}`),
      });
      await expect(stores.inbox.findHandled(['e-1'])).rejects.toMatchObject(failed('inbox: findHandled', 'herald_inbox'));
      // filters not read before: their statements are prepared now
      await expect(stores.deadLetters.list({ handler: 'h' })).rejects.toMatchObject(failed('dead letters: list', 'herald_dead_letters'));
      await expect(stores.deadLetters.count({ handler: 'h' })).rejects.toMatchObject(failed('dead letters: count', 'herald_dead_letters'));
    }));

  it('names the operation that failed, also when another operation prepared the same SQL first', () => {
    const db = new Database(join(tmp.dir, `reads-${++counter}.db`));
    try {
      db.exec('CREATE TABLE t (x INTEGER)');
      const reads = createReadStatements(db);
      const query = { sql: 'SELECT x FROM t WHERE x > $1', params: [0] };
      expect(reads.all(query, 'pages: first')).toEqual([]);
      db.exec('DROP TABLE t');
      expect(() => reads.all(query, 'counts: second')).toThrow(/^counts: second: no such table: t/);
    } finally {
      db.close();
    }
  });

  it('fails the log’s reads on a damaged file with a store-corrupt naming the read and the file, and logs a failing poll once', async () => {
    const path = join(tmp.dir, `log-${++counter}.db`);
    const warnings: { message: string; error: unknown }[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (message, fields) => void warnings.push({ message, error: fields?.error }), child: () => logger };
    const log = sqliteLog({ path, logger, maintenance: false, topics: [{ name: 'orders', partitions: 1 }] });
    try {
      await log.publish([{ topic: 'orders', key: 'k', value: 'v' }]);
      // a consumer at the partition's end: the log polls the file for other connections' commits
      const seen = recordingSink();
      await log.subscribe({ group: 'g', topics: ['orders'] }, seen.sink);
      await waitFor(() => seen.deliveries.length === 1);
      const reads: [context: string, read: () => Promise<unknown>][] = [
        // `read` looks for topics another process created first
        ['log: reading topics', () => log.read({ topic: 'orders', partition: 0, from: 0, limit: 10 })],
        ['log: describeTopics', () => log.describeTopics()],
        ['log: listGroups', () => log.listGroups()],
        ['log: describeGroup', () => log.describeGroup('g')],
      ];
      for (const [, read] of reads) await read();

      damage(path);
      for (const [context, read] of reads) {
        const error = await failure(read());
        expect(error, context).toBeInstanceOf(HeraldError);
        expect(error, context).toMatchObject({ code: 'store-corrupt', retriable: false, details: { path }, message: expect.stringContaining(`${context}: ${path} is damaged`) });
      }
      // the poll (every 5 ms) failed from a timer without ending the process, and said so once
      await waitFor(() => warnings.some((w) => w.message.includes('polling')));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const polls = warnings.filter((w) => w.message.includes('polling'));
      expect(polls).toHaveLength(1);
      expect(polls[0]!.message).toContain(path);
      expect(polls[0]!.error).toMatchObject({ code: 'store-corrupt', message: expect.stringContaining(`log: polling for commits: ${path}`) });
    } finally {
      await log.close();
    }
  });
});

/**
 * Damages the SQLite file at `path` while connections have it open: what is in its WAL is moved
 * into it, every page past the first (which holds the header and the schema's root) is
 * overwritten, and another connection commits, so the open connections drop their page caches
 * and read the damaged pages.
 */
function damage(path: string): void {
  const db = new Database(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(size - pageSize, 0xab), 0, size - pageSize, pageSize);
    closeSync(fd);
    db.pragma('user_version = 7');
  } finally {
    db.close();
  }
}

function failureOf(open: () => { close(): Promise<void> }): unknown {
  try {
    void open().close();
  } catch (error) {
    return error;
  }
  return undefined;
}
