import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createApp, hasWindowStore, partitionForKey, silentLogger, type Logger, type SqlTx, type Stores, type WindowStores } from '@herald/core';
import { pgAnalytics, sqliteAnalytics, type AnalyticsStore } from '@herald/analytics';
import { engineFromEnv } from '@herald/engine';
import { sqliteStores } from '@herald/sqlite';
import { streamTest } from '@herald/stream';
import { memoryBroker } from '@herald/testing';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyticsEvent, EVENTS, TOPICS } from '../src/events.js';
import { MINUTE_WINDOW_STORE, registerConsumer } from '../src/services/consumer.js';
import { MINUTE_EVENTS_TABLE } from '../src/services/minuteEvents.js';
import { previousMinutes, writePreviousMinutes } from './support/previousMinutes.js';
import { tempDataDir } from './support/inProcess.js';

type Stateful = Stores<SqlTx> & WindowStores<SqlTx>;

/** Where a consumer keeps its state: opened afresh for each start, as a restarted process would. */
interface State {
  /** `transactionTimeoutMs`: the stores' bound on a transaction (default theirs, 30 s). */
  openStores(options?: { readonly transactionTimeoutMs?: number }): Promise<{ stores: Stateful; close(): Promise<void> }>;
  openStore(): Promise<AnalyticsStore>;
}

/** An engine: a fresh state (data directory, database) by name, and the engine's end. */
interface Engine {
  state(name: string): Promise<State>;
  stop(): Promise<void>;
}

const ENGINES: { name: string; open: () => Promise<Engine> }[] = [
  {
    name: 'SQLite files',
    open: async () => {
      const data = tempDataDir('analytics-minute-upgrade');
      return {
        state: async (name) => {
          mkdirSync(join(data.dir, name));
          return {
            openStores: async (options = {}) => {
              const stores = sqliteStores({ path: join(data.dir, name, 'stores.db'), ...options });
              return { stores, close: () => stores.close() };
            },
            openStore: async () => sqliteAnalytics({ path: join(data.dir, name, 'analytics.db') }),
          };
        },
        stop: async () => data.remove(),
      };
    },
  },
  {
    // the PostgreSQL stores of the Kafka + PostgreSQL engine (the test drives no Kafka consumer)
    name: 'PostgreSQL',
    open: async () => {
      const [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
      return {
        state: async (name) => {
          const url = await cluster.createDatabase(name);
          return {
            openStores: async (options = {}) => {
              const engine = await engineFromEnv({ ...mock.engineEnv, DATABASE_URL: url }, { logger: silentLogger, postgres: options });
              if (!hasWindowStore(engine.stores)) throw new Error('the PostgreSQL stores keep window state');
              return { stores: engine.stores, close: () => engine.close() };
            },
            openStore: () => pgAnalytics({ connectionString: url }),
          };
        },
        stop: async () => void (await Promise.all([mock.stop(), cluster.stop()])),
      };
    },
  },
];

/**
 * The stores, counting the reads of all open minutes of the consumer's aggregation (the upgrade's
 * scan) and the transactions begun; the transaction numbered `failAt` fails before it runs, as
 * one cut by a crash rolls back.
 */
function watched(stores: Stateful, watch: { scans: number; transactions: number; readonly failAt?: number }): Stateful {
  const { windows } = stores;
  return {
    ...stores,
    transaction: (work) => {
      watch.transactions += 1;
      return watch.transactions === watch.failAt ? Promise.reject(new Error('interrupted')) : stores.transaction(work);
    },
    windows: {
      ...windows,
      read: (store: string) => {
        if (store === MINUTE_WINDOW_STORE) watch.scans += 1;
        return windows.read(store);
      },
    },
  };
}

/**
 * State written by the consumer from before the minutes' events moved to rows (each open minute's
 * events one JSON array in the window state), with minutes still open, taken over by today's
 * consumer on the same files or database: those minutes' events are appended when they close,
 * once, with the events taken since; the start after that finds nothing to upgrade.
 */
describe.each(ENGINES)('upgrading the minutes a previous consumer left open, on $name', ({ open }) => {
  const GRACE_MS = 10_000;
  const M = Date.UTC(2026, 0, 1, 10, 0);
  let engine: Engine;
  beforeAll(async () => void (engine = await open()), 120_000);
  afterAll(() => engine?.stop());

  const click = (eventId: string, userId: string) => ({ eventId, userId, type: 'click', properties: { element: `button-${eventId}` } });
  const openMinutes = async (stores: Stateful) =>
    (await stores.windows.read(MINUTE_WINDOW_STORE)).windows.map((w) => [w.key, w.start, w.value.startsWith('[') ? 'array' : JSON.parse(w.value)]);

  const rows = (stores: Stateful) =>
    stores.transaction((tx) => tx.query<{ user_id: string; event_id: string; copies: number }>(`SELECT user_id, event_id, copies FROM ${MINUTE_EVENTS_TABLE} ORDER BY user_id, event_id`));

  /** Starts today's consumer on `state`, and closes it: what it logged of the upgrade, and how often it read every open minute. */
  async function startTodaysConsumer(state: State, options: { readonly transactionTimeoutMs?: number; readonly failAt?: number } = {}): Promise<{ upgraded: (Record<string, unknown> | undefined)[]; scans: number }> {
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { debug: () => {}, warn: () => {}, error: () => {}, info: (message, fields) => void lines.push({ message, fields }), child: () => logger };
    const [store, opened] = await Promise.all([state.openStore(), state.openStores({ transactionTimeoutMs: options.transactionTimeoutMs })]);
    const watch = { scans: 0, transactions: 0, failAt: options.failAt };
    const app = createApp<SqlTx>({ name: 'minute-upgrade', broker: memoryBroker(), stores: watched(opened.stores, watch), events: EVENTS, topics: TOPICS, logger, relay: false });
    registerConsumer(app, { store, graceMs: GRACE_MS, idleTimeoutMs: 3_600_000 });
    try {
      await app.start();
    } finally {
      await app.close();
      await Promise.all([store.close(), opened.close()]);
    }
    return { upgraded: lines.filter((l) => l.message.startsWith('analytics minute state upgraded')).map((l) => l.fields), scans: watch.scans };
  }

  it('appends every event of a minute open at the upgrade once, when it closes', { timeout: 60_000 }, async () => {
    const state = await engine.state('upgraded');
    // the previous consumer: alice's minute before M closes; heavy's (h-2 delivered twice), bob's and carol's minute M stay open
    const [store, before] = await Promise.all([state.openStore(), state.openStores()]);
    const old = streamTest(previousMinutes(store, GRACE_MS), { stores: before.stores, clockStartMs: M + 3_600_000 });
    await old.when(AnalyticsEvent, [click('a-0', 'alice')], { at: M - 30_000 });
    const heavy = ['h-0', 'h-1', 'h-2', 'h-2', 'h-3', 'h-4'].map((id) => click(id, 'heavy'));
    await old.when(AnalyticsEvent, [...heavy, click('b-0', 'bob'), click('c-0', 'carol')], { at: (d, i) => (d.userId === 'carol' ? M + 15_000 : M + 1_000 * (i + 1)) });
    expect(await openMinutes(before.stores)).toEqual([['bob', M, 'array'], ['carol', M, 'array'], ['heavy', M, 'array']]);
    expect((await store.user('alice'))?.events).toBe(1);
    await Promise.all([store.close(), before.close()]);

    // today's consumer starts on the same state: the arrays become counts, their events rows
    expect(await startTodaysConsumer(state)).toEqual({ upgraded: [{ store: MINUTE_WINDOW_STORE, windows: 3, events: 8 }], scans: 1 });
    // started again, it knows the upgrade ran: it reads no open minute, and changes nothing
    expect(await startTodaysConsumer(state)).toEqual({ upgraded: [], scans: 0 });
    const [after, opened] = await Promise.all([state.openStore(), state.openStores()]);
    try {
      const { stores } = opened;
      expect(await openMinutes(stores)).toEqual([['bob', M, 1], ['carol', M, 1], ['heavy', M, 6]]);
      expect((await rows(stores)).filter((r) => r.user_id === 'heavy').map((r) => [r.event_id, r.copies])).toEqual([['h-0', 1], ['h-1', 1], ['h-2', 2], ['h-3', 1], ['h-4', 1]]);

      // today's consumer takes more of minute M (h-3 again, h-5), then dave's event closes it
      const app = createApp<SqlTx>({ name: 'minute-upgrade', broker: memoryBroker(), stores, events: EVENTS, topics: TOPICS, logger: silentLogger, relay: false });
      const t = streamTest(registerConsumer(app, { store: after, graceMs: GRACE_MS, idleTimeoutMs: 3_600_000 }), { stores, clockStartMs: M + 3_600_000 });
      await t.when(AnalyticsEvent, [click('h-3', 'heavy'), click('h-5', 'heavy')], { at: M + 40_000 });
      await t.when(AnalyticsEvent, [click('d-0', 'dave')], { at: M + 60_000 + GRACE_MS });

      expect(await after.counts({ from: M, to: M + 60_000, windowMs: 60_000 })).toEqual([{ windowStart: M, windowEnd: M + 60_000, count: 8, uniqueUsers: 3 }]);
      expect((await after.user('heavy'))?.events).toBe(6);
      expect((await after.user('bob'))?.events).toBe(1);
      expect((await after.user('carol'))?.events).toBe(1);
      expect(await after.counts({ from: M - 60_000, to: M, windowMs: 60_000 })).toEqual([{ windowStart: M - 60_000, windowEnd: M, count: 1, uniqueUsers: 1 }]);
      // minute M is gone from the window state and the rows: only dave's open minute is held
      expect(await openMinutes(stores)).toEqual([['dave', M + 60_000, 1]]);
      expect((await rows(stores)).map((r) => r.event_id)).toEqual(['d-0']);
    } finally {
      await Promise.all([after.close(), opened.close()]);
    }
  });

  it('scans a state with no minute from before once, at its first start', { timeout: 60_000 }, async () => {
    const state = await engine.state('fresh');
    expect(await startTodaysConsumer(state)).toEqual({ upgraded: [], scans: 1 });
    expect(await startTodaysConsumer(state)).toEqual({ upgraded: [], scans: 0 });
  });

  it('upgrades a state from before larger than one transaction can move in the stores\' bound on it', { timeout: 120_000 }, async () => {
    // 100,000 deliveries open at the upgrade (about 1,500 events a second, with the default grace).
    // Moved in one transaction, 50,000 took 12 s on PostgreSQL, and 150,000 ran past the default
    // bound of 30 s: every start failed. A bound of 5 s stands for it here.
    const state = await engine.state('large');
    const before = await state.openStores();
    const users = Array.from({ length: 2_000 }, (_, u) => `user-${u}`);
    const deliveries = (userId: string) => Array.from({ length: 50 }, (_, i) => ({ eventId: `${userId}-${i % 49}`, userId, type: 'click', occurredAt: M + i, properties: { element: `button-${i}` } }));
    await writePreviousMinutes(before.stores, { graceMs: GRACE_MS, streamTime: M + 50, minutes: users.map((userId) => ({ partition: partitionForKey(userId, 3), userId, start: M, deliveries: deliveries(userId) })) });
    await before.close();

    // a start cut in its fifth transaction (tables, the record of a past upgrade, two parts moved): the parts moved stay moved
    await expect(startTodaysConsumer(state, { transactionTimeoutMs: 5_000, failAt: 5 })).rejects.toThrow('interrupted');
    const opened = await state.openStores();
    const cut = await openMinutes(opened.stores);
    const moved = cut.filter((m) => m[2] === 50).length;
    expect([moved > 0, moved < 2_000, cut.filter((m) => m[2] !== 50 && m[2] !== 'array')]).toEqual([true, true, []]);
    // the next start moves the rest
    expect(await startTodaysConsumer(state, { transactionTimeoutMs: 5_000 })).toEqual({ upgraded: [{ store: MINUTE_WINDOW_STORE, windows: 2_000 - moved, events: (2_000 - moved) * 50 }], scans: 1 });
    try {
      const minutes = await openMinutes(opened.stores);
      expect(minutes.length).toBe(2_000);
      expect(minutes.filter((m) => m[2] !== 50)).toEqual([]);
      const held = await opened.stores.transaction((tx) => tx.query<{ n: number; copies: number }>(`SELECT COUNT(*) AS n, SUM(copies) AS copies FROM ${MINUTE_EVENTS_TABLE}`));
      // each user's event 0 was delivered twice: 49 rows of a user, 50 copies
      expect(held.map((r) => [Number(r.n), Number(r.copies)])).toEqual([[98_000, 100_000]]);
    } finally {
      await opened.close();
    }
  });
});
