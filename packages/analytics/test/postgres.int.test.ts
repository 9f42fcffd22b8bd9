import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAnalytics, type AnalyticsStore } from '../src/index.js';

// What the conformance suite cannot reach on PostgreSQL: a value the checks let through and
// PostgreSQL refuses as data (SQLSTATE class 22). It must fail as the input's fault, not as an
// unavailable database: retried, it would fail again, and a consumer would dead-letter whichever
// record carried the append.

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
let cluster: PostgresCluster | undefined;
let store: AnalyticsStore | undefined;

beforeAll(async () => {
  cluster = await startPostgresCluster();
  store = await pgAnalytics({ connectionString: await cluster.createDatabase('analytics_data_exception') });
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
