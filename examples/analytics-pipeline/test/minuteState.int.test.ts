import { join } from 'node:path';
import { createApp, silentLogger, type SqlTx } from '@herald/core';
import { sqliteAnalytics, type AnalyticsStore } from '@herald/analytics';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { streamTest, type StreamTest } from '@herald/stream';
import { memoryBroker } from '@herald/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyticsEvent, EVENTS, TOPICS } from '../src/events.js';
import { MINUTE_AGGREGATION, registerConsumer } from '../src/services/consumer.js';
import { createMinuteEventsTable, MINUTE_EVENTS_TABLE } from '../src/services/minuteEvents.js';
import { tempDataDir } from './support/inProcess.js';

/**
 * A heavy user's minute, through the consumer's topology on SQLite files (stores and analytics
 * store), batch by batch. Its window state held every event of the minute as one JSON value,
 * rewritten whole by every batch (each event cost as much as the minute held already); now it
 * holds a count, the events wait in their own rows, and the promises stay: the minute appended
 * once when it closes, late events to the side output only (also when the batch closing the
 * minute brings them), each event id once, the 5-minute series equal to its minutes.
 */
describe('a heavy minute of one user', () => {
  const GRACE_MS = 10_000;
  const M = Date.UTC(2026, 0, 1, 10, 0);
  const data = tempDataDir('analytics-minute-state');
  let stores: SqliteStores | undefined;
  let store: AnalyticsStore | undefined;
  let t: StreamTest;
  beforeAll(async () => {
    stores = sqliteStores({ path: join(data.dir, 'stores.db') });
    store = sqliteAnalytics({ path: join(data.dir, 'analytics.db') });
    const app = createApp<SqlTx>({ name: 'minute-state', broker: memoryBroker(), stores, events: EVENTS, topics: TOPICS, logger: silentLogger, relay: false });
    const topology = registerConsumer(app, { store, graceMs: GRACE_MS, idleTimeoutMs: 3_600_000 });
    // the app, not started here, creates it when it starts
    await stores.transaction((tx) => createMinuteEventsTable(tx));
    t = streamTest(topology, { stores, clockStartMs: M + 3_600_000 });
  });
  afterAll(async () => {
    await store?.close();
    await stores?.close();
    data.remove();
  });

  const click = (eventId: string, userId: string) => ({ eventId, userId, type: 'click', properties: { element: `button-${eventId}` } });
  const held = async () => (await stores!.transaction((tx) => tx.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${MINUTE_EVENTS_TABLE}`)))[0]!.n;

  it('keeps a bounded window state, and appends the minute once when it closes', { timeout: 60_000 }, async () => {
    const heavy = Array.from({ length: 600 }, (_, i) => click(`h-${i}`, 'heavy'));
    for (let b = 0; b < heavy.length; b += 100) await t.when(AnalyticsEvent, heavy.slice(b, b + 100), { at: (_d, i) => M + (b + i) * 50 });
    await t.when(AnalyticsEvent, [click('b-0', 'bob'), click('b-1', 'bob'), click('h-7', 'heavy')], { at: (d) => (d.userId === 'bob' ? M + 59_000 : M + 7 * 50) });

    const open = (await t.windows(MINUTE_AGGREGATION)).windows;
    expect(open.map((w) => [w.key, w.start])).toEqual([['bob', M], ['heavy', M]]);
    // what a batch rewrites of the minute does not grow with the minute (it held 600 events: ~70 kB)
    for (const w of open) expect(w.value.length).toBeLessThan(32);
    expect(await store!.counts({ from: M, to: M + 300_000, windowMs: 60_000 })).toEqual([]);

    // one batch: carol's event closes the minute, after it two of heavy's arrive late for it
    // (a new one, and again h-1, which was on time)
    const closeAt = M + 60_000 + GRACE_MS;
    await t.when(AnalyticsEvent, [click('c-0', 'carol'), click('late-0', 'heavy'), click('h-1', 'heavy')], { at: (d) => (d.userId === 'carol' ? closeAt : M + 30_000) });
    expect(t.late().map((l) => (l.value as { eventId: string }).eventId)).toEqual(['late-0', 'h-1']);

    const minute = { windowStart: M, windowEnd: M + 60_000, count: 602, uniqueUsers: 2 };
    expect(await store!.counts({ from: M, to: M + 60_000, windowMs: 60_000 })).toEqual([minute]);
    // carol's minute is not closed yet: the five minutes count the closed one only
    expect(await store!.counts({ from: M, to: M + 300_000, windowMs: 300_000 })).toEqual([{ ...minute, windowEnd: M + 300_000 }]);
    expect((await store!.user('heavy'))?.events).toBe(600);
    expect(await store!.late({ from: M, to: M + 60_000 })).toEqual([{ type: 'click', windowStart: M, windowEnd: M + 60_000, count: 2 }]);
    // carol's minute is still open: only its event is held
    expect(await held()).toBe(1);
  });
});
