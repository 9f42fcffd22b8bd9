import { join } from 'node:path';
import { createApp, hasWindowStore, silentLogger, type Logger, type SqlTx } from '@herald/core';
import { sqliteAnalytics } from '@herald/analytics';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { streamTest } from '@herald/stream';
import { memoryBroker } from '@herald/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { AnalyticsEvent, EVENTS, TOPICS } from '../src/events.js';
import { MINUTE_WINDOW_STORE, registerConsumer } from '../src/services/consumer.js';
import { MINUTE_EVENTS_TABLE } from '../src/services/minuteEvents.js';
import { previousMinutes } from './support/previousMinutes.js';
import { tempDataDir } from './support/inProcess.js';

/**
 * A data directory written by the consumer from before the minutes' events moved to rows (each
 * open minute's events one JSON array in the window state), with minutes still open, taken over
 * by today's consumer on the same SQLite files: those minutes' events are appended when they
 * close, once, with the events taken since; the start after that finds nothing to upgrade.
 */
describe('upgrading the minutes a previous consumer left open', () => {
  const GRACE_MS = 10_000;
  const M = Date.UTC(2026, 0, 1, 10, 0);
  const data = tempDataDir('analytics-minute-upgrade');
  const storesAt = () => sqliteStores({ path: join(data.dir, 'stores.db') });
  const analyticsAt = () => sqliteAnalytics({ path: join(data.dir, 'analytics.db') });
  afterAll(() => data.remove());

  const click = (eventId: string, userId: string) => ({ eventId, userId, type: 'click', properties: { element: `button-${eventId}` } });
  const openMinutes = async (stores: SqliteStores) => {
    if (!hasWindowStore(stores)) throw new Error('sqliteStores has window state');
    return (await stores.windows.read(MINUTE_WINDOW_STORE)).windows.map((w) => [w.key, w.start, w.value.startsWith('[') ? 'array' : JSON.parse(w.value)]);
  };
  const rows = (stores: SqliteStores) =>
    stores.transaction((tx) => tx.query<{ user_id: string; event_id: string; copies: number }>(`SELECT user_id, event_id, copies FROM ${MINUTE_EVENTS_TABLE} ORDER BY user_id, event_id`));

  /** Starts today's consumer on the data directory, and closes it: what it logged. */
  async function startTodaysConsumer(): Promise<{ message: string; fields?: Record<string, unknown> }[]> {
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { debug: () => {}, warn: () => {}, error: () => {}, info: (message, fields) => void lines.push({ message, fields }), child: () => logger };
    const store = analyticsAt();
    const app = createApp<SqlTx>({ name: 'minute-upgrade', broker: memoryBroker(), stores: storesAt(), events: EVENTS, topics: TOPICS, logger, relay: false });
    registerConsumer(app, { store, graceMs: GRACE_MS, idleTimeoutMs: 3_600_000 });
    try {
      await app.start();
    } finally {
      await app.close();
      await store.close();
    }
    return lines.filter((l) => l.message.startsWith('analytics minute state upgraded'));
  }

  it('appends every event of a minute open at the upgrade once, when it closes', { timeout: 60_000 }, async () => {
    // the previous consumer: alice's minute before M closes; heavy's (h-2 delivered twice), bob's and carol's minute M stay open
    const before = { stores: storesAt(), store: analyticsAt() };
    const old = streamTest(previousMinutes(before.store, GRACE_MS), { stores: before.stores, clockStartMs: M + 3_600_000 });
    await old.when(AnalyticsEvent, [click('a-0', 'alice')], { at: M - 30_000 });
    const heavy = ['h-0', 'h-1', 'h-2', 'h-2', 'h-3', 'h-4'].map((id) => click(id, 'heavy'));
    await old.when(AnalyticsEvent, [...heavy, click('b-0', 'bob'), click('c-0', 'carol')], { at: (d, i) => (d.userId === 'carol' ? M + 15_000 : M + 1_000 * (i + 1)) });
    expect(await openMinutes(before.stores)).toEqual([['bob', M, 'array'], ['carol', M, 'array'], ['heavy', M, 'array']]);
    expect((await before.store.user('alice'))?.events).toBe(1);
    await before.store.close();
    await before.stores.close();

    // today's consumer starts on the same files: the arrays become counts, their events rows
    expect((await startTodaysConsumer()).map((l) => l.fields)).toEqual([{ store: MINUTE_WINDOW_STORE, windows: 3, events: 8 }]);
    // started again, it finds nothing to upgrade, and changes nothing
    expect(await startTodaysConsumer()).toEqual([]);
    const after = { stores: storesAt(), store: analyticsAt() };
    try {
      expect(await openMinutes(after.stores)).toEqual([['bob', M, 1], ['carol', M, 1], ['heavy', M, 6]]);
      expect((await rows(after.stores)).filter((r) => r.user_id === 'heavy').map((r) => [r.event_id, r.copies])).toEqual([['h-0', 1], ['h-1', 1], ['h-2', 2], ['h-3', 1], ['h-4', 1]]);

      // today's consumer takes more of minute M (h-3 again, h-5), then dave's event closes it
      const app = createApp<SqlTx>({ name: 'minute-upgrade', broker: memoryBroker(), stores: after.stores, events: EVENTS, topics: TOPICS, logger: silentLogger, relay: false });
      const t = streamTest(registerConsumer(app, { store: after.store, graceMs: GRACE_MS, idleTimeoutMs: 3_600_000 }), { stores: after.stores, clockStartMs: M + 3_600_000 });
      await t.when(AnalyticsEvent, [click('h-3', 'heavy'), click('h-5', 'heavy')], { at: M + 40_000 });
      await t.when(AnalyticsEvent, [click('d-0', 'dave')], { at: M + 60_000 + GRACE_MS });

      expect(await after.store.counts({ from: M, to: M + 60_000, windowMs: 60_000 })).toEqual([{ windowStart: M, windowEnd: M + 60_000, count: 8, uniqueUsers: 3 }]);
      expect((await after.store.user('heavy'))?.events).toBe(6);
      expect((await after.store.user('bob'))?.events).toBe(1);
      expect((await after.store.user('carol'))?.events).toBe(1);
      expect(await after.store.counts({ from: M - 60_000, to: M, windowMs: 60_000 })).toEqual([{ windowStart: M - 60_000, windowEnd: M, count: 1, uniqueUsers: 1 }]);
      // minute M is gone from the window state and the rows: only dave's open minute is held
      expect(await openMinutes(after.stores)).toEqual([['dave', M + 60_000, 1]]);
      expect((await rows(after.stores)).map((r) => r.event_id)).toEqual(['d-0']);
    } finally {
      await after.store.close();
      await after.stores.close();
    }
  });
});
