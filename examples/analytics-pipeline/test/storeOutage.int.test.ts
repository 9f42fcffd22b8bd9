import { join } from 'node:path';
import { HeraldError, partitionForKey, type App, type SqlTx } from '@herald/core';
import { AnalyticsErrors, sqliteAnalytics, type AnalyticsStore } from '@herald/analytics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, appendMetric, type IngestEvent } from '../src/ingest.js';
import type { Queries } from '../src/queries.js';
import { eventually, sleep } from './support/client.js';
import { startConsumerApp } from './support/consumerApp.js';
import { tempDataDir } from './support/inProcess.js';

/**
 * The consumer while its analytics store is down for 5 s, longer than the retry policy's first
 * attempts take (200 ms .. 1.6 s apart) and than two of the attempt deadlines this test sets
 * (2 s; 30 s by default). The record that closes a minute appends the minute's events in its own
 * transaction; before the consumer held such appends until the attempt's deadline, that record was
 * dead-lettered after about 3 s, and, redriven after later records moved stream time on, its
 * minute was counted late. Now every append waits the outage out: every on-time event counted on
 * time, a metric sample sent during it summarised, no dead letter.
 */
describe('the consumer while the analytics store is unavailable', () => {
  const GRACE_MS = 10_000;
  const OUTAGE_MS = 5_000;
  const data = tempDataDir('analytics-outage');
  let real: AnalyticsStore | undefined;
  let app: App<SqlTx> | undefined;
  let queries: Queries | undefined;
  let down = false;
  let refused = 0;
  beforeAll(async () => {
    real = sqliteAnalytics({ path: join(data.dir, 'analytics.db') });
    const unavailable = () => {
      refused++;
      return Promise.reject(new HeraldError(AnalyticsErrors.unavailable, 'analytics (sqlite): append failed (the test took the store down)'));
    };
    const store: AnalyticsStore = {
      ...real,
      kind: real.kind,
      appendEvents: (events) => (down ? unavailable() : real!.appendEvents(events)),
      appendMetrics: (points) => (down ? unavailable() : real!.appendMetrics(points)),
      appendLate: (events) => (down ? unavailable() : real!.appendLate(events)),
    };
    // the example's retries (src/config.ts), with a deadline short enough for the outage to outlast two attempts
    ({ app, queries } = await startConsumerApp({ name: 'outage', dataDir: data.dir, store, graceMs: GRACE_MS, handlerDefaults: { retry: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 10_000 }, timeoutMs: 2_000, deadLetter: 'skip' } }));
  });
  afterAll(async () => {
    await app?.close({ deadlineMs: 5_000 });
    await real?.close();
    data.remove();
  });

  it('counts every on-time event on time and every sample, and dead-letters nothing', { timeout: 60_000 }, async () => {
    // four users on one partition of analytics-events, so one stream time
    const users: string[] = [];
    for (let i = 0; users.length < 4; i++) if (partitionForKey(`user-${i}`, 3) === 0) users.push(`user-${i}`);
    const M = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    const event = (eventId: string, userId: string, at: number): IngestEvent => ({ eventId, userId, type: 'click', timestamp: new Date(at).toISOString(), properties: { element: 'buy' } });
    const minute = (k: number) => users.map((u, i) => event(`m${k}-${u}`, u, M + k * 60_000 + 20_000 + i));
    const send = (events: IngestEvent[]) => appendEvents(app!.publishDirect, events);
    const range = { from: new Date(M).toISOString(), to: new Date(M + 6 * 60_000).toISOString(), window: '1m' };
    const counted = async () => (await queries!.counts(range)).series.filter((w) => w.count > 0).map((w) => [Date.parse(w.windowStart), w.count]);

    await send(minute(0));
    await eventually(async () => ((await app!.deadLetters()).length === 0 && refused === 0 ? true : undefined), 5_000, 'minute 0 taken');
    down = true;
    // minute 2 closes minute 0 while the store is down; a sample arrives too
    await send(minute(2));
    await appendMetric(app!.publishDirect, { sampleId: 'outage-1', name: 'latency', value: 42, timestamp: new Date(M + 30_000).toISOString(), labels: {} });
    await eventually(async () => (refused >= 2 ? true : undefined), 10_000, 'appends refused by the store');
    await sleep(OUTAGE_MS);
    down = false;
    await eventually(async () => ((await counted()).length === 1 ? true : undefined), 20_000, 'minute 0 appended once the store was back');
    // minute 4 closes minute 2, minute 6 closes minute 4
    await send(minute(4));
    await send(minute(6));
    const want = [0, 2, 4].map((k) => [M + k * 60_000, users.length]);
    expect(await eventually(async () => {
      const got = await counted();
      return got.length === want.length ? got : undefined;
    }, 20_000, 'minutes 0, 2 and 4 counted')).toEqual(want);
    expect((await queries!.late(range)).late).toEqual([]);
    expect(await app!.deadLetters()).toEqual([]);
    // the sample goes through its own group, whose retry after the outage may come later than the events' (backoff up to 10 s)
    const summarised = async () => (await real!.metricSummary({ name: 'latency', from: M, to: M + 60_000, windowMs: 60_000 })).map((w) => [w.count, w.avg]);
    expect(await eventually(async () => ((await summarised()).length > 0 ? summarised() : undefined), 20_000, 'the sample summarised')).toEqual([[1, 42]]);
    expect(await app!.deadLetters()).toEqual([]);
  });
});
