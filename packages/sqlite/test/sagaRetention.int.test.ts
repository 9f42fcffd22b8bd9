import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createManualClock, type SagaRecord } from '@herald/core';
import { sqliteStores, type SqliteStores, type SqliteStoresOptions } from '@herald/sqlite';
import { migrate } from '../src/internal/migrate.js';
import { PURGE_SAGAS_SQL } from '../src/stores/sagas.js';
import { STORE_MIGRATIONS } from '../src/stores/schema.js';
import { tempDir } from './helpers.js';

// What the engine-independent cases are is the saga retention conformance suite's
// (conformance.int.test.ts); these are SQLite's own: options, the plan, the upgrade.

const tmp = tempDir('herald-saga-retention-');
afterAll(() => tmp.remove());
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2030, 0, 1);
let counter = 0;
const nextPath = () => join(tmp.dir, `${++counter}-store.db`);

function completed(instanceId: string, updatedAt: number): SagaRecord {
  return { saga: 'order', instanceId, status: 'completed', version: 1, state: { status: 'completed' }, createdAt: updatedAt, updatedAt };
}

async function withStores(options: Partial<SqliteStoresOptions>, body: (stores: SqliteStores) => Promise<void>, path = nextPath()): Promise<void> {
  const stores = sqliteStores({ ...options, path });
  try {
    await body(stores);
  } finally {
    await stores.close();
  }
}

describe('sagaRetentionMs', () => {
  it('refuses a value that is not a positive duration, naming the option', () => {
    for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => sqliteStores({ path: nextPath(), sagaRetentionMs: value }), String(value)).toThrow(
        expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('sagaRetentionMs must be a positive number') as unknown }),
      );
    }
  });

  it('refuses one shorter than inboxRetentionMs, and takes one as long', async () => {
    expect(() => sqliteStores({ path: nextPath(), inboxRetentionMs: 10 * DAY, sagaRetentionMs: 10 * DAY - 1 })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(`sagaRetentionMs (${10 * DAY - 1}) must be at least inboxRetentionMs (${10 * DAY})`) as unknown }),
    );
    // the inbox's default (7 days) counts too
    expect(() => sqliteStores({ path: nextPath(), sagaRetentionMs: DAY })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    await withStores({ inboxRetentionMs: 10 * DAY, sagaRetentionMs: 10 * DAY }, async () => {});
  });

  it('defaults to 30 days, or to inboxRetentionMs when that is longer', async () => {
    const clock = createManualClock(T0);
    const sweepAfter = async (options: Partial<SqliteStoresOptions>, age: number) => {
      let swept = -1;
      await withStores({ ...options, clock }, async (stores) => {
        await stores.transaction((tx) => stores.sagas.save(tx, completed('o-1', clock.now() - age)));
        swept = (await stores.sweepRetention()).sagas;
      });
      return swept;
    };
    expect(await sweepAfter({}, 30 * DAY)).toBe(0);
    expect(await sweepAfter({}, 30 * DAY + 1)).toBe(1);
    // a longer inbox retention alone is no contradiction: the saga retention follows it
    expect(await sweepAfter({ inboxRetentionMs: 60 * DAY }, 60 * DAY)).toBe(0);
    expect(await sweepAfter({ inboxRetentionMs: 60 * DAY }, 60 * DAY + 1)).toBe(1);
    expect(await sweepAfter({ sagaRetentionMs: 8 * DAY }, 8 * DAY + 1)).toBe(1);
  });
});

describe('the saga sweep', () => {
  it('finds what to delete through herald_sagas_finished, oldest first, and deletes by primary key', async () => {
    const path = nextPath();
    await withStores({}, async () => {}, path);
    const db = new Database(path, { readonly: true });
    try {
      const plan = db
        .prepare<[number, number], { detail: string }>(`EXPLAIN QUERY PLAN ${PURGE_SAGAS_SQL}`)
        .all(1, 5000)
        .map((row) => row.detail);
      expect(plan).toContain('SEARCH herald_sagas USING INDEX herald_sagas_finished (updated_at<?)');
      expect(plan).toContain('SEARCH herald_sagas USING PRIMARY KEY (saga=? AND instance_id=?)');
      // the index is read in updated_at order: no sort, no scan of the table
      expect(plan.join('\n')).not.toMatch(/TEMP B-TREE|SCAN herald_sagas/);
    } finally {
      db.close();
    }
  });

  it('upgrades a store file of migration 9: its finished instances are swept once old', async () => {
    const path = nextPath();
    const v9 = new Database(path);
    migrate(v9, 'stores', STORE_MIGRATIONS.filter((m) => m.version <= 9));
    const insert = v9.prepare('INSERT INTO herald_sagas (saga, instance_id, status, version, state, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)');
    insert.run('order', 'done', 'completed', '{}', T0 - 40 * DAY, T0 - 31 * DAY);
    insert.run('order', 'running', 'running', '{}', T0 - 40 * DAY, T0 - 31 * DAY);
    v9.close();

    await withStores(
      { clock: createManualClock(T0) },
      async (stores) => {
        expect((await stores.sweepRetention()).sagas).toBe(1);
        expect(await stores.sagas.find('order', 'done')).toBeUndefined();
        expect(await stores.sagas.find('order', 'running')).toMatchObject({ status: 'running' });
      },
      path,
    );
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'herald_sagas' ORDER BY name").pluck().all()).toEqual([
        'herald_sagas_finished',
        'herald_sagas_in_flight',
        'herald_sagas_status',
      ]);
    } finally {
      db.close();
    }
  });
});
