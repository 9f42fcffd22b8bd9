import { mkdirSync, openSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { sqliteEngine, sqliteStores, type SqliteStores } from '@herald/sqlite';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
let counter = 0;

async function withStores(test: (stores: SqliteStores, path: string) => Promise<void>): Promise<void> {
  const path = join(tmp.dir, `errors-${++counter}.db`);
  const stores = sqliteStores({ path });
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

function failureOf(open: () => { close(): Promise<void> }): unknown {
  try {
    void open().close();
  } catch (error) {
    return error;
  }
  return undefined;
}
