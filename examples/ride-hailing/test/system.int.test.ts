import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from '@herald/core';
import { parseExposition } from '@herald/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { DriverLocationUpdated, SagaCompleted, SagaFailed, SagaStarted, SagaStepCompleted } from '../src/events.js';
import { createRideHailing, type RideHailing } from '../src/system.js';
import { surgeMultiplier } from '../src/services/realtime.js';
import { eventually, RideApi, sleep } from './support/client.js';

// Every service in one process on the embedded engine (a real SQLite file), driven over HTTP: the
// seed's choreography saga when all goes well, when the payment fails and when no driver is free;
// surge pricing from a closed window; a driver's impossible jump flagged; business metrics.

const dir = mkdtempSync(join(tmpdir(), 'herald-ride-hailing-'));
const env = {
  HERALD_DATA_DIR: dir,
  HERALD_KAFKA_BROKERS: '',
  DATABASE_URL: '',
  HERALD_LOG_LEVEL: 'silent',
  PORT: '0',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  // four-second surge windows of 3 bookings, closed by the next booking of the region or 500 ms idle
  // (a surge then holds 4 s past its window's end: time for the test to see it and book again)
  SURGE_WINDOW_MS: '4000',
  SURGE_GRACE_MS: '0',
  SURGE_THRESHOLD: '3',
  STREAM_IDLE_TIMEOUT_MS: '500',
};
let system: RideHailing;
let api: RideApi;
/** The saga log as a consumer of `booking-saga` sees it, per booking. */
const sagaLog = new Map<string, string[]>();

beforeAll(async () => {
  system = await createRideHailing(loadConfig(env, []), env);
  const log = (bookingId: string, entry: string): void => void sagaLog.set(bookingId, [...(sagaLog.get(bookingId) ?? []), entry]);
  system.app.on(SagaStarted, { group: 'test-saga-log' }, async (e) => log(e.data.bookingId, 'started'));
  system.app.on(SagaStepCompleted, { group: 'test-saga-log' }, async (e) => log(e.data.bookingId, e.data.step));
  system.app.on(SagaCompleted, { group: 'test-saga-log' }, async (e) => log(e.data.bookingId, 'completed'));
  system.app.on(SagaFailed, { group: 'test-saga-log' }, async (e) => log(e.data.bookingId, `failed: ${e.data.reason}`));
  const { url } = await system.start();
  api = new RideApi(url!);
}, 60_000);
afterAll(async () => {
  await system?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ride-hailing in one process', () => {
  it('confirms a booking through pricing, driver and payment, and the saga log says so step by step', async () => {
    const rider = await api.rider(10_000);
    const driver = await api.driver('msk-center');
    const bookingId = await api.book(rider, 'msk-center', 5);
    const booking = await api.settled(bookingId);
    expect(booking).toMatchObject({ status: 'CONFIRMED', driverId: driver, priceCents: 300 + 5 * 120, reason: null });
    // the price step comes on its own topic: booking may hear of the payment first
    await eventually(async () => ((await api.ok<{ surgeMultiplier: number | null }>('GET', `/bookings/${bookingId}`)).surgeMultiplier === 1 ? true : undefined), 10_000, 'the price step');
    expect((await api.ok<{ balanceCents: number }>('GET', `/riders/${rider}/wallet`)).balanceCents).toBe(10_000 - 900);
    expect(await api.ok('GET', `/drivers/${driver}`)).toMatchObject({ status: 'busy', bookingId });
    await eventually(() => (sagaLog.get(bookingId)?.length === 5 ? true : undefined), 10_000, 'the saga log');
    // started comes with the booking; the steps in the order booking heard of them (three topics),
    // each once; completed right after paid, in one transaction
    const log = sagaLog.get(bookingId)!;
    expect(log[0]).toBe('started');
    expect([...log].sort()).toEqual(['completed', 'driver-assigned', 'paid', 'priced', 'started']);
    expect(log.indexOf('completed')).toBe(log.indexOf('paid') + 1);
    await eventually(async () => ((await api.notifications(rider)).length === 1 ? true : undefined), 10_000, 'the push');
    expect(await api.notifications(rider)).toEqual([{ notificationId: `confirmed:${bookingId}`, type: 'BOOKING_CONFIRMED', text: `Driver ${driver} is on the way; 9.00 paid` }]);

    // the ride ends: the driver is free for the next booking
    expect(await api.ok('POST', `/bookings/${bookingId}/complete`)).toEqual({ bookingId, status: 'COMPLETED' });
    await eventually(async () => ((await api.ok<{ status: string }>('GET', `/drivers/${driver}`)).status === 'online' ? true : undefined), 10_000, 'the driver free');
    expect((await api.call('POST', `/bookings/${bookingId}/complete`)).body).toMatchObject({ status: 409, code: 'booking-not-confirmed' });
  });

  it('cancels a booking the rider cannot pay for, and releases its driver (the compensation)', async () => {
    const rider = await api.rider(500);
    const driver = await api.driver('spb');
    const bookingId = await api.book(rider, 'spb', 10);
    expect(await api.settled(bookingId)).toMatchObject({ status: 'CANCELLED', driverId: driver, priceCents: 1500, reason: 'payment-failed: insufficient-funds' });
    await eventually(async () => ((await api.ok<{ status: string }>('GET', `/drivers/${driver}`)).status === 'online' ? true : undefined), 10_000, 'the driver released');
    expect((await api.ok<{ balanceCents: number }>('GET', `/riders/${rider}/wallet`)).balanceCents).toBe(500);
    await eventually(() => (sagaLog.get(bookingId)?.at(-1) === 'failed: payment-failed: insufficient-funds' ? true : undefined), 10_000, 'SagaFailed');
    await eventually(async () => ((await api.notifications(rider)).map((n) => n.type).join() === 'BOOKING_CANCELLED' ? true : undefined), 10_000, 'the push');
  });

  it('cancels a booking no driver of its region is free for', async () => {
    const rider = await api.rider(10_000);
    const bookingId = await api.book(rider, 'kazan', 3);
    expect(await api.settled(bookingId)).toMatchObject({ status: 'CANCELLED', driverId: null, reason: 'no-driver' });
    expect((await api.ok<{ balanceCents: number }>('GET', `/riders/${rider}/wallet`)).balanceCents).toBe(10_000);
  });

  it('raises a region\'s prices after a window with more bookings than the threshold, and lowers them after a quiet one', async () => {
    const rider = await api.rider(1_000_000);
    for (let i = 0; i < 5; i++) await api.driver('sochi');
    // five bookings at the start of one four-second window (over the threshold of 3); it closes
    // once a booking of a later window arrives, or the partition has been idle for 500 ms
    await sleep(4_000 - (Date.now() % 4_000) + 20);
    const burst = await Promise.all(Array.from({ length: 5 }, () => api.book(rider, 'sochi', 1)));
    const surge = await eventually(async () => {
      const s = await api.ok<{ multiplier: number; bookings: number }>('GET', '/regions/sochi/surge');
      return s.multiplier > 1 ? s : undefined;
    }, 15_000, 'the surge');
    // 5 bookings, 3 allowed: 67% over, +0.7 (on a machine so slow the burst straddled two windows, its larger part)
    expect(surge.bookings).toBeGreaterThanOrEqual(4);
    expect(surge.multiplier).toBe(surgeMultiplier(surge.bookings, 3));
    // booked at once: the surge holds for the window after the burst's (and its grace), no longer
    const next = await api.book(rider, 'sochi', 1);
    for (const id of burst) {
      const settled = await api.settled(id);
      if (settled.status === 'CONFIRMED') await api.ok('POST', `/bookings/${id}/complete`);
    }
    await eventually(async () => {
      const priced = await api.ok<{ surgeMultiplier: number | null; priceCents: number | null }>('GET', `/bookings/${next}`);
      return priced.surgeMultiplier === surge.multiplier && priced.priceCents === Math.round((300 + 120) * surge.multiplier) ? true : undefined;
    }, 15_000, 'the next booking priced with the surge');
    // that one booking's window, under the threshold, ends the surge
    await eventually(async () => ((await api.ok<{ multiplier: number }>('GET', '/regions/sochi/surge')).multiplier === 1 ? true : undefined), 15_000, 'the surge over');
  });

  it('flags a driver whose location jumps faster than a car goes, and not one driving normally (location-fraud-group)', async () => {
    const [fast, normal] = [await api.driver('msk-north'), await api.driver('msk-north')];
    const t0 = Date.now() - 600_000;
    // 1 km in 60 s is 60 km/h; 100 km in 60 s is 6,000 km/h
    for (const [driver, points] of [
      [normal, [[55.75, 37.6, t0], [55.759, 37.6, t0 + 60_000]]],
      [fast, [[55.75, 37.6, t0], [56.65, 37.6, t0 + 60_000]]],
    ] as const) {
      for (const [lat, lon, at] of points) expect((await api.call('POST', `/drivers/${driver}/locations`, { body: { lat, lon, at }, key: null })).status).toBe(202);
    }
    const alerts = await eventually(async () => {
      const { alerts } = await api.ok<{ alerts: { driverId: string; speedKmh: number }[] }>('GET', '/fraud/alerts?rule=impossible-speed');
      return alerts.length > 0 ? alerts : undefined;
    }, 10_000, 'the alert');
    expect(alerts).toEqual([{ alertId: `impossible-speed:${fast}:${t0 + 60_000}`, rule: 'impossible-speed', driverId: fast, speedKmh: expect.closeTo(6005, -1), fromAt: t0, toAt: t0 + 60_000 }]);
    // a point older than the last one kept (redelivered, or late) changes nothing
    // listening before publishing: under load the group may handle it before publishDirect resolves
    const staleId = uuidv7();
    const handled = new Promise<void>((resolve) => {
      const off = system.app.instrumentation.on((fact) => {
        if (fact.kind === 'handled' && fact.eventId === staleId && fact.group === 'location-fraud-group') resolve(off());
      });
    });
    await system.app.publishDirect(DriverLocationUpdated, { driverId: normal, lat: 10, lon: 10, at: t0 + 1 }, { id: staleId });
    await handled;
    const [kept] = await system.app.transaction((tx) => tx.query<{ lat: number; at: number }>('SELECT lat, at FROM fraud_last_location WHERE driver_id = $1', [normal]));
    expect({ lat: Number(kept!.lat), at: Number(kept!.at) }).toEqual({ lat: 55.759, at: t0 + 60_000 });
    expect((await api.ok<{ alerts: unknown[] }>('GET', '/fraud/alerts?rule=impossible-speed')).alerts).toHaveLength(1);
  });

  it('opens a rider as a wallet with its balance, and refuses a name it would not keep (422)', async () => {
    const opened = await api.call('POST', '/riders', { body: { balanceCents: 2_500 } });
    expect(opened.status).toBe(201);
    const { riderId } = opened.body as { riderId: string };
    expect(opened.body).toEqual({ riderId: expect.any(String), balanceCents: 2_500 });
    expect(await api.ok('GET', `/riders/${riderId}/wallet`)).toEqual({ riderId, balanceCents: 2_500 });
    for (const name of ['Анна', '   ']) {
      const named = await api.call<{ code: string; errors: { path: string }[] }>('POST', '/riders', { body: { name, balanceCents: 2_500 } });
      expect({ status: named.status, code: named.body.code, paths: named.body.errors.map((e) => e.path) }).toEqual({ status: 422, code: 'schema-violation', paths: ['/name'] });
    }
  });

  it('refuses bad requests with problem+json, and shows the business metrics on /metrics', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/bookings', { riderId: 'r', regionId: 'Moscow Center', distanceKm: 3 }, 422, 'schema-violation'],
      ['POST', '/bookings', { riderId: 'r', regionId: 'msk', distanceKm: 0 }, 422, 'schema-violation'],
      ['POST', '/drivers/nope/status', { status: 'online' }, 404, 'driver-not-found'],
      ['POST', '/drivers/nope/locations', { lat: 91, lon: 0 }, 422, 'schema-violation'],
      ['GET', '/bookings/nope', undefined, 404, 'booking-not-found'],
      ['GET', '/riders/nope/wallet', undefined, 404, 'rider-not-found'],
      ['POST', '/bookings', { riderId: 'nobody', regionId: 'msk', distanceKm: 3 }, 422, 'unknown-rider'],
      ['POST', '/drivers/nope/locations', { lat: 1, lon: 1 }, 404, 'driver-not-found'],
      ['GET', '/regions/MSK-Center/surge', undefined, 422, 'schema-violation'],
      // an id of a shape no one has is unknown too, not a schema violation
      ['GET', `/bookings/${'b'.repeat(101)}`, undefined, 404, 'booking-not-found'],
      ['GET', `/riders/${'r'.repeat(300)}/wallet`, undefined, 404, 'rider-not-found'],
      ['GET', `/drivers/${'d'.repeat(101)}`, undefined, 404, 'driver-not-found'],
      ['POST', `/drivers/${'d'.repeat(101)}/status`, { status: 'online' }, 404, 'driver-not-found'],
      ['POST', '/drivers/%20/locations', { lat: 1, lon: 1 }, 404, 'driver-not-found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const reply = await api.call(method, path, { body });
      expect({ path, status: reply.status, type: reply.contentType, code: reply.body['code'] }).toEqual({ path, status, type: 'application/problem+json', code });
    }
    const busy = await api.driver('msk-south');
    expect((await api.call('POST', `/drivers/${busy}/locations`, { body: { lat: 1, lon: 1, at: Date.now() + 3_600_000 }, key: null })).body).toMatchObject({ status: 422, code: 'point-in-future' });
    const rider = await api.rider(10_000);
    await api.settled(await api.book(rider, 'msk-south', 2));
    expect((await api.call('POST', `/drivers/${busy}/status`, { body: { status: 'offline' } })).body).toMatchObject({ status: 409, code: 'driver-busy' });

    const scrape = await fetch(`${api.baseUrl}/metrics`).then((r) => r.text());
    const value = (name: string, status: string) => parseExposition(scrape).find((s) => s.name === name && s.labels['status'] === status)?.value;
    const rows = await system.app.transaction((tx) => tx.query<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM bookings GROUP BY status', []));
    for (const row of rows) expect(value('ride_bookings', row.status)).toBe(Number(row.n));
    expect(value('ride_bookings', 'CANCELLED')).toBeGreaterThanOrEqual(2);
    expect(value('ride_payments', 'FAILED')).toBe(1);
    expect(parseExposition(scrape).find((s) => s.name === 'ride_bookings_pending_oldest_age_seconds')?.value, 'every booking settled').toBe(0);

    // a booking stuck PENDING for 10 minutes (its step dead-lettered) is what the stuck-booking gauge reports
    const createdAt = system.app.clock.now() - 600_000;
    await system.app.transaction((tx) =>
      tx.execute("INSERT INTO bookings (booking_id, rider_id, region_id, distance_km, status, created_at, updated_at) VALUES ('stuck', $1, 'msk-south', 2, 'PENDING', $2, $2)", [rider, createdAt]),
    );
    try {
      const stuck = parseExposition(await fetch(`${api.baseUrl}/metrics`).then((r) => r.text())).find((s) => s.name === 'ride_bookings_pending_oldest_age_seconds')?.value;
      expect(stuck).toBeGreaterThanOrEqual(600);
      expect(stuck).toBeLessThan(660);
    } finally {
      await system.app.transaction((tx) => tx.execute("DELETE FROM bookings WHERE booking_id = 'stuck'", []));
    }
  });
});
