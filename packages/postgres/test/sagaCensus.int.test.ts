import { hasSagaCensus, type SagaCensus, type SagaRecord } from '@herald/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { PgStores } from '../src/index.js';
import { MIGRATIONS } from '../src/internal/migrations.js';
import { countSagasInFlight } from '../src/internal/sagas/countSagasInFlight.js';
import { tablesFor } from '../src/internal/tables.js';
import { usePostgres } from './support.js';

// What the census answers is the saga census conformance suite's (conformance.int.test.ts); these
// are PostgreSQL's own: the plan, the collation, the upgrade.

const pgs = usePostgres();
const t = tablesFor('herald');

/** The census of `stores` (`PgStores` types its saga store without it; the guard finds it). */
function censusOf(stores: PgStores): SagaCensus {
  if (!hasSagaCensus(stores.sagas)) throw new Error('pgStores: the saga store has no census');
  return stores.sagas;
}

function instance(saga: string, instanceId: string, status: string, createdAt: number): SagaRecord {
  return { saga, instanceId, status, version: 1, state: { status }, createdAt, updatedAt: createdAt };
}

describe('the saga census on PostgreSQL', () => {
  it('reads only the instances in flight, from sagas_in_flight, however many ended instances are kept', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // 60 000 ended instances of 3 sagas, and 30 in flight
      await client.query(`INSERT INTO herald.sagas (saga, instance_id, status, version, state, created_at, updated_at)
        SELECT 'saga-' || i % 3, 'i-' || i, CASE WHEN i <= 60000 THEN (CASE WHEN i % 2 = 0 THEN 'completed' ELSE 'failed' END)
          WHEN i % 2 = 0 THEN 'running' ELSE 'awaiting-start' END, 1, repeat('x', 300), i, i
        FROM generate_series(1, 60030) AS i`);
      await client.query('VACUUM ANALYZE herald.sagas');
      const statement = countSagasInFlight(t);
      // prepared statements run generic plans after a few executions: that is the plan to check too
      for (const mode of ['auto', 'force_generic_plan']) {
        await client.query(`SET plan_cache_mode = ${mode}`);
        const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan, mode).toMatch(/Index Only Scan using sagas_in_flight on sagas/);
        expect(plan, `${mode}: neither the table nor every instance kept`).not.toMatch(/Seq Scan|sagas_status|sagas_pkey|sagas_finished/);
      }
      const inFlight = (saga: number, status: string, first: number) => ({ saga: `saga-${saga}`, status, count: 5, oldestCreatedAt: first });
      expect(await censusOf(stores).inFlight()).toEqual([
        inFlight(0, 'awaiting-start', 60003),
        inFlight(0, 'running', 60006),
        inFlight(1, 'awaiting-start', 60001),
        inFlight(1, 'running', 60004),
        inFlight(2, 'awaiting-start', 60005),
        inFlight(2, 'running', 60002),
      ]);
    } finally {
      await client.end();
    }
  });

  it('orders sagas by bytes, as SQLite and memory do, whatever the database collation', async () => {
    const url = new URL(await pgs.database());
    const admin = new pg.Client({ connectionString: url.href });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE icu_census TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C'`);
    } finally {
      await admin.end();
    }
    url.pathname = '/icu_census';
    const stores = await pgs.stores({ url: url.href });
    await stores.transaction(async (tx) => {
      for (const saga of ['ab', 'Zeta', 'a-b']) await stores.sagas.save(tx, instance(saga, 'i-1', 'running', 1000));
    });
    expect((await censusOf(stores).inFlight()).map((e) => e.saga)).toEqual(['Zeta', 'a-b', 'ab']);
  });

  it('upgrades a schema of migration 14: its instances in flight are counted through the new index', async () => {
    const url = await pgs.database();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA herald; CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of MIGRATIONS.filter((m) => m.version <= 14)) await client.query(`${m.sql(t)}; INSERT INTO ${t.migrations} (version, name) VALUES (${m.version}, 'v${m.version}')`);
      await client.query(`INSERT INTO herald.sagas (saga, instance_id, status, version, state, created_at, updated_at) VALUES
        ('order', 'o-1', 'running', 2, '{}', 500, 600), ('order', 'o-2', 'completed', 3, '{}', 100, 700), ('order', 'o-3', 'awaiting-start', 1, '{}', 800, 800)`);
    } finally {
      await client.end();
    }
    const stores = await pgs.stores({ url });
    expect(await censusOf(stores).inFlight()).toEqual([
      { saga: 'order', status: 'awaiting-start', count: 1, oldestCreatedAt: 800 },
      { saga: 'order', status: 'running', count: 1, oldestCreatedAt: 500 },
    ]);
    const [index] = await stores.transaction((tx) => tx.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'herald' AND indexname = 'sagas_in_flight'`));
    expect(index?.indexdef).toContain("WHERE (status = ANY (ARRAY['running'::text, 'awaiting-start'::text]))");
  });
});
