import { afterEach, describe, expect, it } from 'vitest';
import { duckdbAnalytics, type AnalyticsStore } from '../src/index.js';

// What the conformance suite cannot reach on DuckDB: a record that fails while the appender is
// writing, after validation passed. The rows written before it must not survive into the next append.

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const stores: AnalyticsStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

describe('duckdbAnalytics appends', () => {
  it('leave nothing staged when a record fails mid-append: the next append stores only its own records', async () => {
    const store = await duckdbAnalytics({ path: ':memory:' });
    stores.push(store);
    let reads = 0;
    // valid when checked, failing when written: stands for any failure inside the appender
    const failsWhenWritten = {
      get sku() {
        if (++reads > 1) throw new Error('the value changed under the append');
        return 's-1';
      },
    };
    const first = { eventId: 'a1', userId: 'u1', type: 'click', occurredAt: T0, properties: {} };
    const second = { eventId: 'a2', userId: 'u1', type: 'click', occurredAt: T0, properties: failsWhenWritten };
    await expect(store.appendEvents([first, second])).rejects.toMatchObject({ code: 'analytics-unavailable' });
    expect(reads).toBe(2); // it failed while writing, not while being checked
    expect(await store.appendEvents([{ eventId: 'b1', userId: 'u2', type: 'view', occurredAt: T0, properties: {} }])).toBe(1);
    expect(await store.user('u1')).toBeUndefined();
    expect(await store.counts({ from: T0, to: T0 + 60_000, windowMs: 60_000 })).toEqual([{ windowStart: T0, windowEnd: T0 + 60_000, count: 1, uniqueUsers: 1 }]);
  });
});
