import { expect } from 'vitest';
import { eventually, pool, type BookingView, type RideApi } from './client.js';

/** What a run wrote: riders with their starting balances, drivers, and the bookings made. */
export interface Run {
  readonly riders: ReadonlyMap<string, number>;
  readonly drivers: readonly string[];
  readonly bookings: readonly string[];
}

/**
 * Sets up `riders` riders (every fourth too poor for a ride) and `drivers` drivers over two
 * regions, then books `bookings` rides with `concurrency` clients. A booking confirmed is completed
 * at once (the ride is over, the driver free again). `progress.done` counts bookings made.
 */
export async function ride(api: () => RideApi, options: { riders: number; drivers: number; bookings: number; concurrency: number; progress?: { done: number } }): Promise<Run> {
  const regions = ['north', 'south'];
  const riders = new Map<string, number>();
  for (let i = 0; i < options.riders; i++) {
    const balance = i % 4 === 0 ? 100 : 50_000;
    riders.set(await api().rider(balance), balance);
  }
  const drivers: string[] = [];
  for (let i = 0; i < options.drivers; i++) drivers.push(await api().driver(regions[i % regions.length]!));
  const riderIds = [...riders.keys()];
  const bookings: string[] = [];
  await pool(
    Array.from({ length: options.bookings }, (_, i) => i),
    options.concurrency,
    async (i) => {
      const bookingId = await api().book(riderIds[i % riderIds.length]!, regions[i % regions.length]!, 1 + (i % 7));
      bookings.push(bookingId);
      if (options.progress) options.progress.done++;
      const booking = await api().settled(bookingId, 120_000);
      if (booking.status === 'CONFIRMED') await api().ok('POST', `/bookings/${bookingId}/complete`);
    },
  );
  return { riders, drivers, bookings };
}

/**
 * Checks the end state once quiet: every booking COMPLETED or CANCELLED (a reason for each
 * cancellation), each rider's balance its start minus its completed rides, one payment per booking
 * that had a driver, every driver free again, one push per booking, fraud alerts that count no
 * event twice.
 */
export async function expectSettled(api: () => RideApi, run: Run): Promise<BookingView[]> {
  const views = await Promise.all(run.bookings.map(async (id) => (await api().ok<BookingView & { riderId: string }>('GET', `/bookings/${id}`))));
  for (const view of views) {
    expect(['COMPLETED', 'CANCELLED'], `${view.bookingId}: ${view.status}`).toContain(view.status);
    if (view.status === 'CANCELLED') expect(['no-driver', 'payment-failed: insufficient-funds']).toContain(view.reason);
  }
  const spent = new Map<string, number>();
  for (const view of views as (BookingView & { riderId: string })[]) if (view.status === 'COMPLETED') spent.set(view.riderId, (spent.get(view.riderId) ?? 0) + view.priceCents!);
  for (const [rider, start] of run.riders) {
    const { balanceCents } = await api().ok<{ balanceCents: number }>('GET', `/riders/${rider}/wallet`);
    expect({ rider, balanceCents }).toEqual({ rider, balanceCents: start - (spent.get(rider) ?? 0) });
  }
  await eventually(
    async () => {
      const statuses = await Promise.all(run.drivers.map(async (d) => (await api().ok<{ status: string }>('GET', `/drivers/${d}`)).status));
      return statuses.every((s) => s === 'online') ? true : undefined;
    },
    60_000,
    'every driver free again',
  );
  for (const rider of run.riders.keys()) {
    const mine = views.filter((v) => (v as BookingView & { riderId: string }).riderId === rider);
    const pushes = await eventually(async () => {
      const list = await api().notifications(rider);
      return list.length >= mine.length ? list : undefined;
    }, 60_000, `the pushes of ${rider}`);
    const expected = mine.map((v) => `${v.status === 'CANCELLED' ? 'cancelled' : 'confirmed'}:${v.bookingId}`).sort();
    expect(pushes.map((p) => p.notificationId).sort()).toEqual(expected);
  }
  await expectFraudAlertsSound(api, views as (BookingView & { riderId: string })[]);
  return views;
}

/**
 * The fraud-group's alerts so far, whatever it has handled yet, count no event twice (through
 * relay duplicates, redeliveries, a SIGKILL): a rider's failed-payment alerts add up to no more
 * than its bookings cancelled for payment (none for a rider who always paid), its booking-burst
 * alerts to no more than its bookings.
 */
async function expectFraudAlertsSound(api: () => RideApi, views: readonly (BookingView & { riderId: string })[]): Promise<void> {
  const { alerts } = await api().ok<{ alerts: { rule: string; riderId?: string; count?: number }[] }>('GET', '/fraud/alerts?limit=500');
  const counted = new Map<string, number>();
  for (const a of alerts) if (a.riderId) counted.set(`${a.rule} ${a.riderId}`, (counted.get(`${a.rule} ${a.riderId}`) ?? 0) + a.count!);
  for (const rider of new Set(views.map((v) => v.riderId))) {
    const mine = views.filter((v) => v.riderId === rider);
    const failed = mine.filter((v) => v.reason === 'payment-failed: insufficient-funds').length;
    expect(counted.get(`repeated-failed-payments ${rider}`) ?? 0, `failed payments of ${rider}`).toBeLessThanOrEqual(failed);
    expect(counted.get(`booking-burst ${rider}`) ?? 0, `bookings of ${rider}`).toBeLessThanOrEqual(mine.length);
  }
}
