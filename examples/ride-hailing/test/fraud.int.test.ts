import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7, type EventDefinition } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import { engineFromEnv } from '@herald/engine';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { BookingCreated, DriverLocationUpdated, GROUPS, PaymentFailed, RiderFraudSuspected } from '../src/events.js';
import { countInRiderWindow } from '../src/services/riderWindows.js';
import { migrate } from '../src/schema.js';
import { createRideHailing, type RideHailing } from '../src/system.js';
import { eventually, pool, RideApi, sleep } from './support/client.js';

// The fraud service on each engine (a real SQLite file; Kafka's mock cluster + a throwaway
// PostgreSQL): payment, booking and GPS events published to the log with the event times a test
// picks, the alerts read over HTTP (`GET /fraud/alerts`) and from the fraud-alerts topic. Defaults:
// 10-minute windows, 3 failed payments or 5 bookings of one rider in one window raise an alert, an
// hour of grace, 250 km/h.

const MIN = 60_000;
/** The start of a 10-minute window. */
const T0 = 1_764_000_000_000;
const QUIET = { HERALD_LOG_LEVEL: 'silent', PORT: '0', HERALD_RETRY_INITIAL_DELAY_MS: '10' };

/** The engines the suite runs on: each opens its environment, and cleans up after. */
const ENGINES: { name: string; open: () => Promise<{ env: Record<string, string>; close: () => Promise<void> }> }[] = [
  {
    name: 'the embedded engine (SQLite)',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-ride-hailing-fraud-'));
      return { env: { ...QUIET, HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '' }, close: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    // PostgreSQL runs two transactions of one rider at once: the count must be taken in turn
    name: 'Kafka (mock cluster) + PostgreSQL',
    open: async () => {
      const [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
      const env = { ...QUIET, ...mock.engineEnv, DATABASE_URL: await cluster.createDatabase('ride_fraud') };
      return { env, close: async () => void (await Promise.all([mock.stop(), cluster.stop()])) };
    },
  },
];

interface AlertView {
  alertId: string;
  rule: string;
  riderId?: string;
  driverId?: string;
  count?: number;
  fromAt: number;
  toAt: number;
}

describe.each(ENGINES)('the fraud service on $name', (engine) => {
  let system: RideHailing;
  let api: RideApi;
  let closeEngine: (() => Promise<void>) | undefined;
  /** RiderFraudSuspected as a consumer of `fraud-alerts` sees it. */
  const published: Static<typeof RiderFraudSuspected.schema>[] = [];

  beforeAll(async () => {
    const opened = await engine.open();
    closeEngine = opened.close;
    system = await createRideHailing(loadConfig(opened.env, ['--service', 'api,fraud']), opened.env);
    system.app.on(RiderFraudSuspected, { group: 'test-fraud-alerts' }, async (e) => void published.push(e.data));
    const { url } = await system.start();
    api = new RideApi(url!);
  }, 120_000);
  afterAll(async () => {
    await system?.close();
    await closeEngine?.();
  }, 60_000);

  /** Publishes the event to the log and waits until the fraud-group has handled it; returns the delivery's outcome. */
  async function deliver<S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options: { id?: string; at?: number; group?: string } = {}): Promise<string> {
    const id = options.id ?? uuidv7();
    const group = options.group ?? GROUPS.fraud;
    const handled = new Promise<string>((resolve) => {
      const off = system.app.instrumentation.on((fact) => {
        if (fact.kind === 'handled' && fact.eventId === id && fact.group === group) {
          off();
          resolve(fact.outcome);
        }
      });
    });
    await system.app.publishDirect(definition, data, { id, ...(options.at === undefined ? {} : { occurredAt: new Date(options.at) }) });
    return handled;
  }

  const failed = (riderId: string, at: number, bookingId = uuidv7(), id?: string) =>
    deliver(PaymentFailed, { bookingId, riderId, regionId: 'msk-center', driverId: 'd-1', amountCents: 900, reason: 'insufficient-funds' }, { at, ...(id ? { id } : {}) });
  const booked = (riderId: string, regionId: string, createdAt: number) => deliver(BookingCreated, { bookingId: uuidv7(), riderId, regionId, distanceKm: 3, createdAt });
  const alertsOf = async (subject: string, query = '') => (await api.ok<{ alerts: AlertView[] }>('GET', `/fraud/alerts${query}`)).alerts.filter((a) => a.riderId === subject);

  it('flags a rider with 3 failed payments in one 10-minute window (card testing), once, its count growing', async () => {
    const rider = uuidv7();
    await failed(rider, T0 + 1 * MIN);
    await failed(rider, T0 + 2 * MIN);
    expect(await alertsOf(rider), 'two are not enough').toEqual([]);
    await failed(rider, T0 + 3 * MIN);
    const alertId = `repeated-failed-payments:${rider}:${T0}`;
    expect(await alertsOf(rider)).toEqual([{ alertId, rule: 'repeated-failed-payments', riderId: rider, count: 3, fromAt: T0, toAt: T0 + 10 * MIN }]);
    await failed(rider, T0 + 9 * MIN);
    expect(await alertsOf(rider)).toEqual([expect.objectContaining({ alertId, count: 4 })]);
    // the next window is counted afresh: a second alert. The alerts are keyed by rider, so they come
    // in order: were the first published again (at its 4th failure), it would be in between
    for (const m of [10, 11, 12]) await failed(rider, T0 + m * MIN);
    const next = `repeated-failed-payments:${rider}:${T0 + 10 * MIN}`;
    const events = await eventually(() => (published.some((e) => e.alertId === next) ? published.filter((e) => e.riderId === rider) : undefined), 10_000, 'the alert events');
    expect(events).toEqual([
      { alertId, rule: 'repeated-failed-payments', riderId: rider, bookingIds: [expect.any(String), expect.any(String), expect.any(String)], windowStart: T0, windowEnd: T0 + 10 * MIN },
      expect.objectContaining({ alertId: next, windowStart: T0 + 10 * MIN }),
    ]);
  });

  it('does not flag failed payments spread over windows, nor count another rider\'s', async () => {
    const spread = uuidv7();
    for (const at of [T0 + 1 * MIN, T0 + 12 * MIN, T0 + 23 * MIN, T0 + 34 * MIN]) await failed(spread, at);
    const [a, b] = [uuidv7(), uuidv7()];
    await failed(a, T0 + 1 * MIN);
    await failed(a, T0 + 2 * MIN);
    await failed(b, T0 + 3 * MIN);
    await failed(a, T0 + 20 * MIN);
    for (const rider of [spread, a, b]) expect(await alertsOf(rider), rider).toEqual([]);
  });

  it('counts a failed payment once, delivered again under its own event id or under another', async () => {
    const rider = uuidv7();
    const [first, second] = [uuidv7(), uuidv7()];
    const secondEventId = uuidv7();
    expect(await failed(rider, T0 + 1 * MIN, first)).toBe('applied');
    expect(await failed(rider, T0 + 2 * MIN, second, secondEventId)).toBe('applied');
    // the same envelope again (a lost ack, a redrive): the inbox
    expect(await failed(rider, T0 + 2 * MIN, second, secondEventId)).toBe('duplicate');
    // the same payment in a new envelope (published again upstream): the rider's state keeps it once
    expect(await failed(rider, T0 + 2 * MIN, second)).toBe('applied');
    expect(await failed(rider, T0 + 3 * MIN, first)).toBe('applied');
    expect(await alertsOf(rider), 'still two failed payments').toEqual([]);
    await failed(rider, T0 + 4 * MIN);
    expect(await alertsOf(rider)).toEqual([expect.objectContaining({ rule: 'repeated-failed-payments', count: 3 })]);
  });

  it('flags a rider with 5 bookings in one window across regions (several partitions), whatever the order they are handled in', async () => {
    const rider = uuidv7();
    const regions = ['msk-center', 'msk-north', 'spb', 'kazan', 'sochi'];
    // out of event-time order, and concurrently: one rider's bookings come on the partitions of their regions
    await Promise.all([5, 1, 3, 2].map((m, i) => booked(rider, regions[i]!, T0 + m * MIN)));
    expect(await alertsOf(rider), 'four are not enough').toEqual([]);
    await booked(rider, regions[4]!, T0 + 4 * MIN);
    expect(await alertsOf(rider)).toEqual([{ alertId: `booking-burst:${rider}:${T0}`, rule: 'booking-burst', riderId: rider, count: 5, fromAt: T0, toAt: T0 + 10 * MIN }]);
    const [event] = await eventually(() => {
      const mine = published.filter((e) => e.riderId === rider);
      return mine.length > 0 ? mine : undefined;
    }, 10_000, 'the alert event');
    expect(event!.bookingIds).toHaveLength(5);
  });

  it('does not flag 4 bookings of a rider, nor 5 of different riders in one region', async () => {
    const rider = uuidv7();
    for (let m = 0; m < 4; m++) await booked(rider, 'msk-center', T0 + m * MIN);
    const others = Array.from({ length: 5 }, () => uuidv7());
    for (const other of others) await booked(other, 'msk-center', T0 + 5 * MIN);
    for (const r of [rider, ...others]) expect(await alertsOf(r)).toEqual([]);
  });

  it('does not count an event further behind the rider\'s newest than the grace (an hour)', async () => {
    const rider = uuidv7();
    await booked(rider, 'spb', T0 + 3 * 60 * MIN);
    for (let m = 0; m < 5; m++) await booked(rider, 'spb', T0 + m * MIN);
    expect(await alertsOf(rider)).toEqual([]);
  });

  it('counts two of a rider\'s events handled at once in turn: the second sees the first (the rider\'s row is locked first)', async () => {
    const rider = uuidv7();
    const windows = { windowMs: 10 * MIN, graceMs: 60 * MIN };
    const fact = (bookingId: string, at: number) => ({ rule: 'booking-burst', riderId: rider, bookingId, at });
    let counted!: () => void;
    let release!: () => void;
    const firstCounted = new Promise<void>((resolve) => (counted = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const first = system.app.transaction(async (tx) => {
      const result = await countInRiderWindow(tx, fact(`a-${rider}`, T0 + 2 * MIN), windows);
      counted();
      await released;
      return result;
    });
    await firstCounted;
    const second = system.app.transaction((tx) => countInRiderWindow(tx, fact(`b-${rider}`, T0 + 1 * MIN), windows));
    // the second must wait for the first to commit; counting at once, it would miss the first's booking
    const sooner = await Promise.race([second.then(() => 'second'), sleep(500).then(() => 'first')]);
    release();
    expect(await first).toEqual({ outcome: 'counted', windowStart: T0, windowEnd: T0 + 10 * MIN, bookingIds: [`a-${rider}`] });
    expect(await second).toEqual({ outcome: 'counted', windowStart: T0, windowEnd: T0 + 10 * MIN, bookingIds: [`b-${rider}`, `a-${rider}`] });
    expect(sooner).toBe('first');
  });

  it('flags a driver whose GPS points imply more than 250 km/h (location-fraud-group), once, and not one driving normally', async () => {
    const [fast, normal] = [uuidv7(), uuidv7()];
    const point = (driverId: string, lat: number, at: number, id?: string) =>
      deliver(DriverLocationUpdated, { driverId, lat, lon: 37.6, at }, { group: GROUPS.locationFraud, ...(id ? { id } : {}) });
    // 1 km in a minute is 60 km/h; 100 km in a minute, 6,000 km/h
    expect(await point(normal, 55.75, T0)).toBe('applied');
    expect(await point(normal, 55.759, T0 + MIN)).toBe('applied');
    expect(await point(fast, 55.75, T0)).toBe('applied');
    expect(await point(fast, 56.65, T0 + MIN)).toBe('applied');
    // the same point again in a new envelope: no newer than the last kept, ignored
    expect(await point(fast, 56.65, T0 + MIN)).toBe('applied');
    const { alerts } = await api.ok<{ alerts: AlertView[] }>('GET', '/fraud/alerts?rule=impossible-speed');
    expect(alerts).toEqual([{ alertId: `impossible-speed:${fast}:${T0 + MIN}`, rule: 'impossible-speed', driverId: fast, speedKmh: expect.closeTo(6005, -1), fromAt: T0, toAt: T0 + MIN }]);
  });

  it('lists the newest alerts first, at most `limit` (default 50, at most 500), of one rule or all', async () => {
    const all = (await api.ok<{ alerts: AlertView[] }>('GET', '/fraud/alerts')).alerts;
    expect(all.map((a) => a.rule).sort()).toEqual(['booking-burst', 'impossible-speed', 'repeated-failed-payments', 'repeated-failed-payments', 'repeated-failed-payments']);
    expect(all.map((a) => a.toAt)).toEqual([...all.map((a) => a.toAt)].sort((x, y) => y - x));
    const [newest] = (await api.ok<{ alerts: AlertView[] }>('GET', '/fraud/alerts?limit=1')).alerts;
    expect(newest).toEqual(all[0]);
    const bursts = (await api.ok<{ alerts: AlertView[] }>('GET', '/fraud/alerts?rule=booking-burst')).alerts;
    expect(bursts.map((a) => a.rule)).toEqual(['booking-burst']);
    // more alerts than the default limit: 48 more riders, each with a burst of failed payments
    await pool(Array.from({ length: 48 }, () => uuidv7()), 8, async (rider) => {
      for (let m = 0; m < 3; m++) await failed(rider, T0 + 10 * MIN + m * MIN);
    });
    expect((await api.ok<{ alerts: AlertView[] }>('GET', '/fraud/alerts')).alerts).toHaveLength(50);
    expect((await api.ok<{ alerts: AlertView[] }>('GET', '/fraud/alerts?limit=500')).alerts).toHaveLength(all.length + 48);
    for (const query of ['limit=0', 'limit=501', 'limit=ten', 'rule=fast-cars']) {
      expect((await api.call('GET', `/fraud/alerts?${query}`)).body, query).toMatchObject({ status: 422, code: 'schema-violation' });
    }
  });
});

describe('the fraud tables', () => {
  it('take over the speed alerts of a data dir from the version that kept only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-ride-hailing-fraud-'));
    try {
      const before = await engineFromEnv({ HERALD_DATA_DIR: dir, HERALD_LOG_LEVEL: 'silent' });
      await before.stores.transaction(async (tx) => {
        await tx.execute('CREATE TABLE fraud_alerts (alert_id TEXT PRIMARY KEY, driver_id TEXT NOT NULL, speed_kmh DOUBLE PRECISION NOT NULL, from_at BIGINT NOT NULL, to_at BIGINT NOT NULL)');
        await tx.execute('INSERT INTO fraud_alerts (alert_id, driver_id, speed_kmh, from_at, to_at) VALUES ($1, $2, $3, $4, $5)', ['d-1:1764000060000', 'd-1', 6005, T0, T0 + MIN]);
      });
      await before.close();
      const engine = await engineFromEnv({ HERALD_DATA_DIR: dir, HERALD_LOG_LEVEL: 'silent' });
      try {
        await migrate(engine.stores, 'embedded');
        await migrate(engine.stores, 'embedded'); // at every start: the rows moved once
        const rows = await engine.stores.transaction((tx) => tx.query('SELECT * FROM fraud_rule_alerts'));
        expect(rows).toEqual([{ alert_id: 'impossible-speed:d-1:1764000060000', rule: 'impossible-speed', subject_id: 'd-1', event_count: null, speed_kmh: 6005, from_at: T0, to_at: T0 + MIN }]);
        expect(await engine.stores.transaction((tx) => tx.query('SELECT * FROM fraud_alerts'))).toEqual([]);
      } finally {
        await engine.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
