import { join } from 'node:path';
import { hasWindowStore, partitionForKey, type App, type SqlTx, type WindowStore } from '@herald/core';
import { sqliteAnalytics, type AnalyticsStore } from '@herald/analytics';
import type { Engine } from '@herald/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, type IngestEvent } from '../src/ingest.js';
import { GRACE_STORE } from '../src/grace.js';
import { createQueries } from '../src/queries.js';
import { MINUTE_WINDOW_STORE } from '../src/services/consumer.js';
import { eventually } from './support/client.js';
import { startConsumerApp } from './support/consumerApp.js';
import { tempDataDir } from './support/inProcess.js';

/**
 * `counts` while a minute closes on one partition between the analytics service's two reads: the
 * analytics store (the minute's events) and the window state (each partition's stream time, which
 * says the minute is final). A partition appends a minute's events to the store, then commits the
 * stream time that closed it. `counts` read both at once, the store first on SQLite: a minute that
 * one partition had closed and another closed in between was answered as final, counting only the
 * first partition's events, a number a client keeps as final. Reading the stream times first, every
 * window they call final is whole in the store read after them. The window state is read through a
 * gate here, so the minute closes between the reads every time (as when the analytics service is
 * another process, or the reads are queries to PostgreSQL running side by side); only its
 * partitions (stream times) are offered, so `counts` cannot read its windows.
 */
describe('counts while a minute closes between the analytics service reads', () => {
  const GRACE_MS = 10_000;
  const data = tempDataDir('analytics-finality');
  let store: AnalyticsStore | undefined;
  let engine: Engine | undefined;
  let app: App<SqlTx> | undefined;
  beforeAll(async () => {
    store = sqliteAnalytics({ path: join(data.dir, 'analytics.db') });
    ({ engine, app } = await startConsumerApp({ name: 'finality', dataDir: data.dir, store, graceMs: GRACE_MS, handlerDefaults: { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 }, deadLetter: 'skip' } }));
  });
  afterAll(async () => {
    await app?.close({ deadlineMs: 5_000 });
    await store?.close();
    data.remove();
  });

  it('answers a minute as final only with the events of every partition', { timeout: 60_000 }, async () => {
    if (!hasWindowStore(engine!.stores)) throw new Error('the embedded engine keeps window state');
    const windows = engine!.stores.windows as WindowStore<unknown>;
    // two users on two partitions of analytics-events (the third partition never has an event)
    const userOn = (partition: number) => Array.from({ length: 100 }, (_, i) => `user-${i}`).find((u) => partitionForKey(u, 3) === partition)!;
    const [early, later] = [userOn(0), userOn(1)];
    const M = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    const event = (eventId: string, userId: string, at: number): IngestEvent => ({ eventId, userId, type: 'click', timestamp: new Date(at).toISOString(), properties: { element: 'buy' } });
    const send = (events: IngestEvent[]) => appendEvents(app!.publishDirect, events);
    const streamTimeOf = async (partition: number) => (await windows.read(MINUTE_WINDOW_STORE)).partitions.find((p) => p.partition === partition)?.streamTime;

    // minute 0: two events of one partition's user, three of the other's
    await send([event('e-1', early, M + 1_000), event('e-2', early, M + 2_000), ...[1, 2, 3].map((i) => event(`l-${i}`, later, M + 10_000 + i))]);
    // minute 2 on the first partition only: it closes minute 0 there (its two events are in the store)
    await send([event('e-3', early, M + 120_000)]);
    await eventually(async () => ((await store!.user(early))?.events === 2 && (await streamTimeOf(1)) !== undefined ? true : undefined), 20_000, 'minute 0 closed on the first partition');

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // the stream times, and the consumer's grace: `counts` must not read the open windows' values (every raw event of every open user-minute)
    const late: Pick<WindowStore<unknown>, 'partitions' | 'read'> = {
      partitions: async (name) => (await gate, windows.partitions(name)),
      read: (name) => (name === GRACE_STORE ? windows.read(name) : Promise.reject(new Error(`counts read the open windows of ${name}`))),
    };
    const queries = createQueries({ store: store!, windows: late, graceMs: GRACE_MS, retentionMs: 86_400_000 });
    const answer = queries.counts({ from: new Date(M).toISOString(), to: new Date(M + 5 * 60_000).toISOString(), window: '1m' });
    // minute 2 on the second partition: it closes minute 0 there, which makes minute 0 final
    await send([event('l-4', later, M + 120_000)]);
    await eventually(async () => ((await streamTimeOf(1)) === M + 120_000 ? true : undefined), 20_000, 'minute 0 closed on the second partition');
    release();

    expect((await answer).series).toEqual([{ windowStart: new Date(M).toISOString(), windowEnd: new Date(M + 60_000).toISOString(), count: 5, uniqueUsers: 2 }]);
  });
});
