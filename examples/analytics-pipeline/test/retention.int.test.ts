import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createAnalyticsPipeline } from '../src/system.js';
import { send } from './support/client.js';
import { TEST_ENV, tempDataDir } from './support/inProcess.js';

// ANALYTICS_RETENTION_MS reaches the analytics store (its sweep deletes what is older) and the
// analytics service's answers (which never show what a sweep may have deleted, swept yet or not).

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number) => new Date(ms).toISOString();
const data = tempDataDir('analytics-retention');
afterAll(() => data.remove());

describe('the analytics retention of a pipeline process', () => {
  it('answers a metric summary only from the first whole window it keeps, and its store deletes what is older at a sweep', async () => {
    const env = { ...TEST_ENV, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_DATA_DIR: data.dir, ANALYTICS_RETENTION_MS: String(2 * HOUR) };
    // the analytics service alone: it only reads the store and never sweeps it by itself (the
    // consumer does), so the sweep this test runs is the only one
    const system = await createAnalyticsPipeline(loadConfig(env, ['--service', 'analytics']), env);
    try {
      const urls = await system.start();
      const store = system.store!;
      const now = Date.now();
      await store.appendMetrics([
        { pointId: 'old', name: 'latency', value: 1, occurredAt: now - 3 * HOUR, labels: {} },
        { pointId: 'new', name: 'latency', value: 2, occurredAt: now - 30 * MINUTE, labels: {} },
      ]);
      const range = new URLSearchParams({ from: iso(now - 4 * HOUR), to: iso(now), window: '1m' });
      const summary = async () => {
        const before = Date.now();
        const answer = await send(`${urls.analyticsHttp}/v1/metrics/latency/summary?${range}`);
        const keptFrom = [before, Date.now()].map((t) => iso(Math.ceil((t - 2 * HOUR) / MINUTE) * MINUTE));
        expect(answer.status).toBe(200);
        const body = answer.body as { from: string; series: { windowStart: string; count: number }[] };
        // the range starts at the first whole minute kept (the clock may pass a minute during the call)
        expect(keptFrom).toContain(body.from);
        return body.series.map((w) => [w.windowStart, w.count]);
      };
      const newMinute = iso(Math.floor((now - 30 * MINUTE) / MINUTE) * MINUTE);
      const stored = async () => (await store.metricSummary({ name: 'latency', from: now - 4 * HOUR, to: now, windowMs: MINUTE })).length;

      // not swept yet: the old sample is in the store, and not in the answer
      expect(await stored()).toBe(2);
      expect(await summary()).toEqual([[newMinute, 1]]);
      expect(await store.sweepRetention()).toEqual({ events: 0, metrics: 1, late: 0 });
      expect(await stored()).toBe(1);
      expect(await summary()).toEqual([[newMinute, 1]]);
    } finally {
      await system.close();
    }
  });
});
