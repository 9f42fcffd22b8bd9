import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { hasSagaCensus } from '@herald/core';
import { sqliteStores } from '@herald/sqlite';
import { migrate } from '../src/internal/migrate.js';
import { IN_FLIGHT_SQL } from '../src/stores/sagas.js';
import { STORE_MIGRATIONS } from '../src/stores/schema.js';
import { tempDir } from './helpers.js';

// What the census answers is the saga census conformance suite's (conformance.int.test.ts); these
// are SQLite's own: the plan, and the upgrade of a file made before the census's index.

const tmp = tempDir('herald-saga-census-');
afterAll(() => tmp.remove());
let counter = 0;
const nextPath = () => join(tmp.dir, `${++counter}-store.db`);

describe('the saga census on SQLite', () => {
  it('reads the instances in flight from herald_sagas_in_flight alone, in its order: never the table, nor the ended instances', async () => {
    const path = nextPath();
    await sqliteStores({ path }).close();
    const db = new Database(path, { readonly: true });
    try {
      const plan = db.prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${IN_FLIGHT_SQL}`).all().map((row) => row.detail);
      expect(plan).toEqual(['SCAN herald_sagas USING COVERING INDEX herald_sagas_in_flight']);
    } finally {
      db.close();
    }
  });

  it('upgrades a store file of migration 10: its instances in flight are counted, through the new index', async () => {
    const path = nextPath();
    const v10 = new Database(path);
    migrate(v10, 'stores', STORE_MIGRATIONS.filter((m) => m.version <= 10));
    const insert = v10.prepare('INSERT INTO herald_sagas (saga, instance_id, status, version, state, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)');
    // many ended instances, a few in flight
    v10.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run('order', `done-${i}`, i % 2 ? 'completed' : 'failed', '{}', 1000 + i, 2000 + i);
      insert.run('order', 'o-1', 'running', '{}', 500, 600);
      insert.run('order', 'o-2', 'running', '{}', 700, 800);
      insert.run('order', 'o-early', 'awaiting-start', '{}', 900, 900);
      insert.run('booking', 'b-1', 'running', '{}', 300, 300);
    })();
    v10.close();

    const stores = sqliteStores({ path });
    try {
      expect(hasSagaCensus(stores.sagas)).toBe(true);
      if (!hasSagaCensus(stores.sagas)) return;
      expect(await stores.sagas.inFlight()).toEqual([
        { saga: 'booking', status: 'running', count: 1, oldestCreatedAt: 300 },
        { saga: 'order', status: 'awaiting-start', count: 1, oldestCreatedAt: 900 },
        { saga: 'order', status: 'running', count: 2, oldestCreatedAt: 500 },
      ]);
    } finally {
      await stores.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM herald_sagas INDEXED BY herald_sagas_in_flight WHERE status IN ('running', 'awaiting-start')").pluck().get()).toBe(4);
    } finally {
      db.close();
    }
  });
});
