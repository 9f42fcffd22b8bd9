import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExposition } from '@herald/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVER_HELD_AGE_METRIC, PENDING_AGE_METRIC } from '../src/businessMetrics.js';
import { loadConfig } from '../src/config.js';
import { GROUPS } from '../src/events.js';
import { createRideHailing, type RideHailing } from '../src/system.js';
import { eventually, RideApi } from './support/client.js';

// The saga's compensation dead-lettered, on the embedded engine (a real SQLite file): the driver
// service cannot release the driver of a booking cancelled for its payment (a trigger refuses the
// UPDATE, as a store failure would). The booking is over, so the stuck-booking gauge shows nothing,
// and the dead-letter alert stops once the letter is 10 minutes old; the driver would stay busy for
// good, unassignable and unable to go offline. The held-driver gauge says so until the letter is
// redriven.

const dir = mkdtempSync(join(tmpdir(), 'herald-ride-hailing-release-'));
const env = {
  HERALD_DATA_DIR: dir,
  HERALD_KAFKA_BROKERS: '',
  DATABASE_URL: '',
  HERALD_LOG_LEVEL: 'silent',
  PORT: '0',
  HERALD_RETRY_MAX_ATTEMPTS: '2',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
};
let system: RideHailing;
let api: RideApi;

beforeAll(async () => {
  system = await createRideHailing(loadConfig(env, []), env);
  const { url } = await system.start();
  api = new RideApi(url!);
}, 60_000);
afterAll(async () => {
  await system?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gauge(name: string): Promise<number | undefined> {
  return parseExposition(await fetch(`${api.baseUrl}/metrics`).then((r) => r.text())).find((s) => s.name === name)?.value;
}

describe('a driver whose release was dead-lettered', () => {
  it('is reported held by the gauge until the letter is redriven, then freed', async () => {
    const driver = await api.driver('held');
    expect(await gauge(DRIVER_HELD_AGE_METRIC)).toBe(0);
    await system.app.transaction((tx) =>
      tx.execute("CREATE TRIGGER refuse_release BEFORE UPDATE OF status ON drivers WHEN OLD.status = 'busy' AND NEW.status = 'online' BEGIN SELECT RAISE(ABORT, 'release refused'); END", []),
    );
    const booking = await api.settled(await api.book(await api.rider(100), 'held', 5));
    expect(booking).toMatchObject({ status: 'CANCELLED', reason: 'payment-failed: insufficient-funds', driverId: driver });
    const [letter] = await eventually(async () => {
      const letters = await system.app.deadLetters({ group: GROUPS.driver });
      return letters.length > 0 ? letters : undefined;
    }, 10_000, "the release's dead letter");
    expect(letter).toMatchObject({ eventType: 'BookingCancelled', status: 'dead' });

    expect(await api.ok('GET', `/drivers/${driver}`)).toMatchObject({ status: 'busy', bookingId: booking.bookingId });
    expect(await gauge(PENDING_AGE_METRIC), 'no booking is pending').toBe(0);
    expect(await gauge(DRIVER_HELD_AGE_METRIC)).toBeGreaterThan(0);

    await system.app.transaction((tx) => tx.execute('DROP TRIGGER refuse_release', []));
    expect(await system.app.redrive({ group: GROUPS.driver, ids: [letter!.id] })).toMatchObject({ redriven: 1, failed: 0 });
    expect(await api.ok('GET', `/drivers/${driver}`)).toMatchObject({ status: 'online', bookingId: null });
    expect(await gauge(DRIVER_HELD_AGE_METRIC)).toBe(0);
  });
});
