import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAnalytics, type AnalyticsStore } from '../src/index.js';

// What the conformance suite cannot reach on PostgreSQL: a value the checks let through and
// PostgreSQL refuses as data (SQLSTATE class 22). It must fail as the input's fault, not as an
// unavailable database: retried, it would fail again, and a consumer would dead-letter whichever
// record carried the append. Likewise a query PostgreSQL refuses to compute from the stored rows.
// And a store on a pool its caller gave, which close() leaves open.

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
let cluster: PostgresCluster | undefined;
let store: AnalyticsStore | undefined;
let url: string | undefined;

beforeAll(async () => {
  cluster = await startPostgresCluster();
  url = await cluster.createDatabase('analytics_data_exception');
  store = await pgAnalytics({ connectionString: url });
});
afterAll(async () => {
  await store?.close();
  await cluster?.stop();
});

describe('pgAnalytics appends', () => {
  it('report a value PostgreSQL refuses as data as an invalid record (not retriable), storing nothing of that append', async () => {
    let reads = 0;
    // valid when checked, a lone surrogate (which jsonb cannot read) when written
    const refusedWhenWritten = {
      get sku() {
        return ++reads > 1 ? 'caf\ud83d' : 's-1';
      },
    };
    const first = { eventId: 'a1', userId: 'u1', type: 'click', occurredAt: T0, properties: {} };
    const second = { eventId: 'a2', userId: 'u1', type: 'click', occurredAt: T0, properties: refusedWhenWritten };
    const error = await store!.appendEvents([first, second]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'analytics-invalid-record', retriable: false, details: { sqlState: '22P02' } });
    expect(reads).toBe(2); // refused by PostgreSQL, not by the checks
    expect(await store!.user('u1')).toBeUndefined();
    expect(await store!.appendEvents([{ eventId: 'b1', userId: 'u2', type: 'view', occurredAt: T0, properties: {} }])).toBe(1);
  });
});

describe('pgAnalytics queries', () => {
  it('report a summary PostgreSQL refuses to compute (samples stored before values were bounded) as refused, not retriable', async () => {
    // rows written without the store's checks: two samples of 1e308 overflow avg's running sum
    const pool = new pg.Pool({ connectionString: url });
    try {
      await pool.query(`INSERT INTO analytics_metrics VALUES ('p1', 'big', 1e308, $1, '{}'), ('p2', 'big', 1e308, $2, '{}')`, [T0, T0 + 1]);
    } finally {
      await pool.end();
    }
    const error = await store!.metricSummary({ name: 'big', from: T0, to: T0 + 60_000, windowMs: 60_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'analytics-query-refused', retriable: false, details: { sqlState: '22003' } });
    expect((error as Error).message).toContain('metricSummary');
    // the store is fine: other queries answer
    expect(await store!.metricSummary({ name: 'other', from: T0, to: T0 + 60_000, windowMs: 60_000 })).toEqual([]);
  });
});

describe('pgAnalytics on a pool it was given', () => {
  it('refuses every call after close() as closed (not retriable), leaving the pool, which it does not own, open', async () => {
    const pool = new pg.Pool({ connectionString: url });
    try {
      const given = await pgAnalytics({ pool });
      await given.appendEvents([{ eventId: 'p1', userId: 'u-pool', type: 'click', occurredAt: T0, properties: {} }]);
      await given.close();
      // the pool would have gone on answering: the store looked open to a caller who closed it
      await expect(given.user('u-pool')).rejects.toMatchObject({ code: 'closed', retriable: false });
      await expect(given.appendEvents([{ eventId: 'p2', userId: 'u-pool', type: 'click', occurredAt: T0, properties: {} }])).rejects.toMatchObject({ code: 'closed', retriable: false });
      expect((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM analytics_events WHERE user_id = 'u-pool'`)).rows[0]!.n).toBe('1');
    } finally {
      await pool.end();
    }
  });
});
