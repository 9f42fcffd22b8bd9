import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, RideApi } from './support/client.js';
import { rideProcesses } from './support/processes.js';
import { expectSettled, ride } from './support/scenario.js';

// Seed 000 as separate processes on one embedded data directory: the api, booking, pricing,
// driver, payment, notification, and realtime with fraud. The relay drops 20% of its publishes
// and "loses" 5% of its acks (duplicates); payment is SIGKILLed mid-run and restarted.

const dir = mkdtempSync(join(tmpdir(), 'herald-ride-hailing-services-'));
const processes = rideProcesses({ HERALD_DATA_DIR: dir, HERALD_CHAOS_RATE: '0.2', HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05' });
let api: RideApi;

beforeAll(async () => {
  // the api first: it creates the tables; the consumers then start together
  await processes.start('api', 'api');
  await Promise.all(['booking', 'pricing', 'driver', 'payment', 'notification'].map((s) => processes.start(s, s)));
  await processes.start('realtime', 'realtime,fraud');
  api = new RideApi(processes.url('api'));
}, 180_000);
afterAll(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('ride-hailing as separate processes with relay chaos', () => {
  it('settles every booking, with wallets, drivers and pushes that add up, across a SIGKILL of payment', async () => {
    const progress = { done: 0 };
    const running = ride(() => api, { riders: 8, drivers: 6, bookings: 36, concurrency: 6, progress });
    await eventually(() => (progress.done >= 12 ? true : undefined), 60_000, 'a third of the bookings');
    await processes.crash('payment');
    await processes.restart('payment');
    const run = await running;
    const views = await expectSettled(() => api, run);
    const statuses = new Set(views.map((v) => v.status));
    // poor riders' bookings were cancelled by the failed payment, the others completed
    expect([...statuses].sort()).toEqual(['CANCELLED', 'COMPLETED']);
    expect(views.some((v) => v.reason === 'payment-failed: insufficient-funds')).toBe(true);
  }, 240_000);
});
