import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { OutboxRecord } from '@herald/core';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { tempDir } from './helpers.js';
import { STORE_MIGRATIONS } from '../src/stores/schema.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

let counter = 0;
let stores: SqliteStores;
let path: string;

beforeEach(async () => {
  path = join(tmp.dir, `store-${++counter}.db`);
  stores = sqliteStores({ path });
  await stores.transaction((tx) => tx.execute('CREATE TABLE effects (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER)'));
});
afterEach(() => stores.close());

function record(id: string, key: string, correlationId = 'c-1'): OutboxRecord {
  return { id, topic: 'orders', key, type: 'OrderPlaced', correlationId, value: `{"id":"${id}"}`, headers: {}, createdAt: 1000 };
}

describe('sqliteStores.transaction (group commit)', () => {
  it('commits concurrent transactions together; a failing one rolls back alone', async () => {
    let appendedSignals = 0;
    stores.onAppended(() => appendedSignals++);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        stores.transaction(async (tx) => {
          await tx.execute('INSERT INTO effects (name, n) VALUES ($1, $2)', [`e${i}`, i]);
          await stores.outbox.append(tx, [record(`id-${i}`, `k${i % 5}`)]);
          if (i === 17) throw new Error('boom');
          return i;
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect((results[17] as PromiseRejectedResult).reason.message).toBe('boom');
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toHaveLength(49);
    const rows = await stores.transaction((tx) => tx.query<{ name: string }>('SELECT name FROM effects ORDER BY n'));
    expect(rows.map((r) => r.name)).not.toContain('e17');
    expect(rows).toHaveLength(49);
    const claimed = await stores.outbox.claim({ relayId: 'r', limit: 100, leaseMs: 1000 });
    expect(claimed.map((r) => r.id)).not.toContain('id-17');
    expect(claimed).toHaveLength(49);
    // all 50 were queued in one turn: one batch, one commit, one signal
    expect(appendedSignals).toBe(1);
  });

  it('settles only after the commit is on disk: another connection sees the rows', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => stores.transaction((tx) => tx.execute('INSERT INTO effects (name) VALUES ($1)', [`d${i}`]))));
    const other = new Database(path, { readonly: true });
    try {
      expect(other.prepare('SELECT count(*) AS n FROM effects').get()).toEqual({ n: 10 });
    } finally {
      other.close();
    }
  });

  it('rolls back a transaction whose statement failed, keeping the others of the batch', async () => {
    await stores.transaction((tx) => tx.execute('INSERT INTO effects (name) VALUES ($1)', ['taken']));
    const [dup, fine] = await Promise.allSettled([
      stores.transaction(async (tx) => {
        await tx.execute('INSERT INTO effects (name) VALUES ($1)', ['first-write-of-dup']);
        await tx.execute('INSERT INTO effects (name) VALUES ($1)', ['taken']);
      }),
      stores.transaction((tx) => tx.execute('INSERT INTO effects (name) VALUES ($1)', ['fine'])),
    ]);
    expect(dup.status).toBe('rejected');
    expect(fine.status).toBe('fulfilled');
    const names = await stores.transaction((tx) => tx.query<{ name: string }>('SELECT name FROM effects ORDER BY id'));
    expect(names.map((r) => r.name)).toEqual(['taken', 'fine']);
  });

  it('refuses a tx used after its work settled', async () => {
    let leaked: Parameters<Parameters<SqliteStores['transaction']>[0]>[0] | undefined;
    await stores.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toMatchObject({ code: 'transaction-finished' });
    await expect(stores.outbox.append(leaked!, [record('late', 'k')])).rejects.toMatchObject({ code: 'transaction-finished' });
  });

  it('runs a transaction started inside another as a separate one that commits on its own', async () => {
    const outer = stores.transaction(async (tx) => {
      await tx.execute('INSERT INTO effects (name) VALUES ($1)', ['outer']);
      await stores.transaction((inner) => inner.execute('INSERT INTO effects (name) VALUES ($1)', ['inner']));
      await stores.deadLetters.setStatus(['none'], 'dead');
      throw new Error('outer fails after the inner one committed');
    });
    await expect(outer).rejects.toThrow('outer fails');
    const names = await stores.transaction((tx) => tx.query<{ name: string }>('SELECT name FROM effects'));
    expect(names).toEqual([{ name: 'inner' }]);
  });

  it('rolls back and fails a transaction that outlives transactionTimeoutMs, then carries on', async () => {
    const quick = sqliteStores({ path: join(tmp.dir, 'timeout.db'), transactionTimeoutMs: 50 });
    try {
      await quick.transaction((tx) => tx.execute('CREATE TABLE t (v TEXT)'));
      let release: () => void = () => {};
      const hung = quick.transaction(async (tx) => {
        await tx.execute('INSERT INTO t VALUES ($1)', ['hung']);
        await new Promise<void>((resolve) => (release = resolve));
        await tx.execute('INSERT INTO t VALUES ($1)', ['after']);
      });
      const next = quick.transaction((tx) => tx.execute('INSERT INTO t VALUES ($1)', ['next']));
      await expect(hung).rejects.toMatchObject({ code: 'timeout' });
      await next;
      release();
      const rows = await quick.transaction((tx) => tx.query<{ v: string }>('SELECT v FROM t'));
      expect(rows).toEqual([{ v: 'next' }]);
    } finally {
      await quick.close();
    }
  });

  it('binds $n parameters, booleans, null, dates and JSON, and returns changed-row counts', async () => {
    const changed = await stores.transaction(async (tx) => {
      await tx.execute('CREATE TABLE kinds (a, b, c, d, e)');
      await tx.execute('INSERT INTO kinds VALUES ($1, $2, $3, $4, $5)', [true, null, new Date(0), { x: [1] }, undefined]);
      return tx.execute('UPDATE kinds SET a = $1 WHERE a = $1 OR b = $2', [1, 'none']);
    });
    expect(changed).toBe(1);
    const rows = await stores.transaction((tx) => tx.query('SELECT * FROM kinds WHERE a = $1 AND c = $2', [1, '1970-01-01T00:00:00.000Z']));
    expect(rows).toEqual([{ a: 1, b: null, c: '1970-01-01T00:00:00.000Z', d: '{"x":[1]}', e: null }]);
  });

  it('takes { prepare: true } as PostgreSQL does: the same results, a repeated statement run again and again', async () => {
    // SQLite prepares and caches every statement's text anyway; the option is accepted so that a
    // handler written for both engines runs on either
    const upsert = 'INSERT INTO effects (name, n) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET n = effects.n + excluded.n';
    for (let i = 0; i < 3; i++) {
      const changed = await stores.transaction((tx) => tx.execute(upsert, ['prepared', i + 1], { prepare: true }));
      expect(changed).toBe(1);
    }
    const rows = await stores.transaction((tx) => tx.query('SELECT n FROM effects WHERE name = $1', ['prepared'], { prepare: true }));
    expect(rows).toEqual([{ n: 6 }]);
  });

  it('refuses transaction control statements inside a tx, behind comments, whitespace or semicolons too', async () => {
    const statements = ['COMMIT', '/* end */ COMMIT', '-- done\nEND', ';COMMIT', ' ;\t/* a */ ; rollback', 'SAVEPOINT s', 'release s', 'BEGIN'];
    for (const sql of statements) {
      await expect(stores.transaction((tx) => tx.execute(sql)), sql).rejects.toMatchObject({ code: 'transaction-control' });
    }
    // a word that merely starts like one is not refused
    await expect(stores.transaction((tx) => tx.query('SELECT 1 AS "commit"'))).resolves.toEqual([{ commit: 1 }]);
  });

  it('keeps its schema version and opens an existing file without migrating again', async () => {
    await stores.transaction((tx) => tx.execute('INSERT INTO effects (name) VALUES ($1)', ['kept']));
    const again = sqliteStores({ path });
    try {
      const rows = await again.transaction((tx) => tx.query<{ component: string; version: number }>('SELECT component, version FROM herald_schema_version'));
      expect(rows).toEqual([{ component: 'stores', version: STORE_MIGRATIONS.at(-1)!.version }]);
      expect(await again.transaction((tx) => tx.query('SELECT name FROM effects'))).toEqual([{ name: 'kept' }]);
    } finally {
      await again.close();
    }
  });

  it('rejects work after close; close is idempotent', async () => {
    await Promise.all([stores.close(), stores.close()]);
    await expect(stores.transaction(async () => 1)).rejects.toMatchObject({ code: 'closed' });
  });
});
