import { join } from 'node:path';
import { hasWindowStore, type App, type SqlTx, type WindowStore } from '@herald/core';
import { sqliteAnalytics, type AnalyticsStore } from '@herald/analytics';
import type { Engine } from '@herald/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { appendEvents, type IngestEvent } from '../src/ingest.js';
import { createQueries, type Queries } from '../src/queries.js';
import { MINUTE_WINDOW_STORE } from '../src/services/consumer.js';
import { createAnalyticsPipeline, type AnalyticsPipeline, type PipelineUrls } from '../src/system.js';
import { eventually, send } from './support/client.js';
import { startConsumerApp } from './support/consumerApp.js';
import { TEST_ENV, tempDataDir } from './support/inProcess.js';

/**
 * `counts` judges finality by the grace the consumer closes minutes with, not by the analytics
 * service's own `STREAM_GRACE_MS`: given a smaller one, it answered a 5-minute window as final
 * while its last minute was still open in the consumer (its events not yet in the store), a
 * number a client keeps as final. The consumer records its grace beside its window state (SQLite
 * files here); a consumer restarted with a smaller grace leaves the minutes it had open to close by
 * the old one, and `counts` waits for them too. One user: one partition, whose stream time is the
 * largest event time sent.
 */
describe('counts by the grace the consumer closes minutes with', () => {
  let data: ReturnType<typeof tempDataDir>;
  let store: AnalyticsStore | undefined;
  let engine: Engine | undefined;
  let app: App<SqlTx> | undefined;
  const retry = { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 };
  // a 5-minute window half an hour ago: event times behind the clock, as the consumer requires
  const B = Math.floor(Date.now() / 300_000) * 300_000 - 30 * 60_000;
  const window5m = { from: new Date(B).toISOString(), to: new Date(B + 300_000).toISOString(), window: '5m' };
  const event = (eventId: string, at: number): IngestEvent => ({ eventId, userId: 'alice', type: 'click', timestamp: new Date(at).toISOString(), properties: { element: 'buy' } });

  const startConsumer = async (graceMs: number) => {
    store = sqliteAnalytics({ path: join(data.dir, 'analytics.db') });
    ({ engine, app } = await startConsumerApp({ name: 'grace', dataDir: data.dir, store, graceMs, handlerDefaults: { retry, deadLetter: 'skip' } }));
  };
  const stopConsumer = async () => {
    await app?.close({ deadlineMs: 5_000 });
    await store?.close();
    app = store = undefined;
  };
  beforeEach(() => {
    data = tempDataDir('analytics-grace');
  });
  afterEach(async () => {
    await stopConsumer();
    data.remove();
  });

  /** The analytics service's queries, given `graceMs` as its own `STREAM_GRACE_MS`. */
  const analytics = (graceMs: number): Queries => {
    if (!hasWindowStore(engine!.stores)) throw new Error('the embedded engine keeps window state');
    return createQueries({ store: store!, windows: engine!.stores.windows as WindowStore<unknown>, graceMs, retentionMs: 86_400_000 });
  };
  /** Sends `events` and waits until the stream time reached `streamTime` and `stored` events are in the store. */
  const sendAndWait = async (events: IngestEvent[], expected: { streamTime: number; stored: number }) => {
    await appendEvents(app!.publishDirect, events);
    const windows = (engine!.stores as unknown as { windows: WindowStore<unknown> }).windows;
    await eventually(
      async () => ((await windows.partitions(MINUTE_WINDOW_STORE))[0]?.streamTime === expected.streamTime && (await store!.user('alice'))?.events === expected.stored ? true : undefined),
      20_000,
      `stream time ${expected.streamTime} and ${expected.stored} events stored`,
    );
  };
  const counts = async (queries: Queries) => (await queries.counts(window5m)).series.map((w) => w.count);

  it('answers a window final only once the consumer closed its minutes, whatever grace the analytics service has', { timeout: 60_000 }, async () => {
    await startConsumer(60_000);
    const queries = analytics(10_000);
    // minute 3 closes (stream time past its end + 60 s); minute 4 (ending with the window) stays open
    await sendAndWait([event('a-1', B + 180_000 + 1_000), event('a-2', B + 240_000 + 1_000), event('a-3', B + 300_000 + 30_000)], { streamTime: B + 330_000, stored: 1 });
    // past the window's end by 10 s (the analytics service's grace), not by the consumer's 60 s
    expect(await counts(queries)).toEqual([]);
    await sendAndWait([event('a-4', B + 360_000 + 1_000)], { streamTime: B + 361_000, stored: 2 });
    expect(await counts(queries)).toEqual([2]);
  });

  it('waits, after the consumer restarts with a smaller grace, for the minutes it had open to close by the old one', { timeout: 60_000 }, async () => {
    await startConsumer(60_000);
    await sendAndWait([event('b-1', B + 180_000 + 1_000), event('b-2', B + 240_000 + 30_000), event('b-3', B + 300_000 + 5_000)], { streamTime: B + 305_000, stored: 1 });
    await stopConsumer();
    // restarted with 10 s: minute 4 stays stored to close at its end + 60 s, as it was opened
    await startConsumer(10_000);
    const queries = analytics(10_000);
    await sendAndWait([event('b-4', B + 300_000 + 15_000)], { streamTime: B + 315_000, stored: 1 });
    expect(await counts(queries)).toEqual([]);
    await sendAndWait([event('b-5', B + 360_000 + 1_000)], { streamTime: B + 361_000, stored: 2 });
    expect(await counts(queries)).toEqual([2]);
  });

  it('takes the grace a consumer service recorded in the analytics service started with another STREAM_GRACE_MS', { timeout: 60_000 }, async () => {
    // the services as `--service consumer` and `--service analytics` on one data directory
    const service = async (name: string, graceMs: number): Promise<{ system: AnalyticsPipeline; urls: PipelineUrls }> => {
      const env = { ...TEST_ENV, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_DATA_DIR: data.dir, STREAM_GRACE_MS: String(graceMs) };
      const system = await createAnalyticsPipeline(loadConfig(env, ['--service', name]), env);
      try {
        return { system, urls: await system.start() };
      } catch (error) {
        await system.close();
        throw error;
      }
    };
    const { system: consumer } = await service('consumer', 60_000);
    const { system: analyticsService, urls } = await service('analytics', 10_000).catch(async (error: unknown) => {
      await consumer.close();
      throw error;
    });
    try {
      ({ app, engine, store } = consumer);
      const analyticsUrl = urls.analyticsHttp!;
      const answer = async () => ((await send(`${analyticsUrl}/v1/analytics/counts?${new URLSearchParams(window5m).toString()}`)).body as { series: { count: number }[] }).series.map((w) => w.count);
      await sendAndWait([event('c-1', B + 180_000 + 1_000), event('c-2', B + 240_000 + 1_000), event('c-3', B + 300_000 + 30_000)], { streamTime: B + 330_000, stored: 1 });
      expect(await answer()).toEqual([]);
      await sendAndWait([event('c-4', B + 360_000 + 1_000)], { streamTime: B + 361_000, stored: 2 });
      expect(await answer()).toEqual([2]);
    } finally {
      app = store = undefined;
      await Promise.all([analyticsService.close(), consumer.close()]);
    }
  });
});
