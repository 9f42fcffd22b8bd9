import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate } from '../src/index.js';
import { MIGRATIONS } from '../src/internal/migrations.js';
import { tablesFor } from '../src/internal/tables.js';
import { rows, schemaAt, usePostgres } from './support.js';

const pgs = usePostgres();
const t = tablesFor('herald');
const LATEST = MIGRATIONS.at(-1)!.version;
/** The versions after 13, where these tests start: every one a run from there applies. */
const AFTER_13 = MIGRATIONS.map((m) => m.version).filter((v) => v > 13);

/** A session of its own, open until `end()`: what a report or an idle-in-transaction client is. */
async function session(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

describe('migrate: waiting for locks', () => {
  it('gives up waiting on a long transaction holding a table it changes, leaves the schema as it was, and applies once the transaction ends', async () => {
    const url = await pgs.database();
    await schemaAt(url, 13);
    // a long read of the dead letters: version 14 alters that table
    const reader = await session(url);
    await reader.query(`BEGIN; SELECT count(*) FROM ${t.deadLetters}`);
    const writer = await session(url);
    try {
      const migrating = migrate({ connectionString: url, lockTimeoutMs: 300 });
      // while the migration waits for its lock, a running process's writes queue behind it
      const started = Date.now();
      await writer.query(`SELECT count(*) FROM ${t.deadLetters}`);
      const waited = Date.now() - started;
      await expect(migrating).rejects.toMatchObject({
        code: 'store-conflict',
        retriable: true,
        message: expect.stringMatching(/version 14 .*waited 300 ms for a lock another session holds/) as unknown,
        details: expect.objectContaining({ sqlState: '55P03' }) as unknown,
      });
      // bounded by the timeout, not by the reader (who is still in its transaction)
      expect(waited).toBeLessThan(10_000);
      expect(await rows<{ version: number }>(url, `SELECT max(version) AS version FROM ${t.migrations}`)).toEqual([{ version: 13 }]);
      await reader.query('COMMIT');
      expect(await migrate({ connectionString: url, lockTimeoutMs: 300 })).toMatchObject({ applied: AFTER_13, version: LATEST });
    } finally {
      await reader.end();
      await writer.end();
    }
  });

  it('waits for another process migrating as long as it takes: the bound is on table locks, not on the migration lock', async () => {
    const url = await pgs.database();
    await schemaAt(url, 13);
    // another process's migration run, as far as the lock every run takes is concerned
    const other = await session(url);
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`herald:migrate:${t.schema}`]);
    try {
      let settled = false;
      const migrating = migrate({ connectionString: url, lockTimeoutMs: 100 }).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(settled).toBe(false);
      await other.query('COMMIT');
      expect(await migrating).toMatchObject({ applied: AFTER_13, version: LATEST });
    } finally {
      await other.end();
    }
  });

  it('refuses a lock timeout that is not a whole number of ms from 0 to PostgreSQL\'s largest', async () => {
    for (const lockTimeoutMs of [-1, 1.5, Number.NaN, 2 ** 31]) {
      await expect(migrate({ connectionString: 'postgres://127.0.0.1:1/x', lockTimeoutMs }), String(lockTimeoutMs)).rejects.toMatchObject({
        code: 'invalid-options',
        message: expect.stringContaining('lockTimeoutMs') as unknown,
      });
    }
    await expect(migrate({})).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('connectionString or pool') as unknown });
  });
});
