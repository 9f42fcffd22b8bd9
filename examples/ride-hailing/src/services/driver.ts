import type { App, Publish, SqlTx } from '@herald/core';
import { BookingCancelled, BookingCompleted, DriverAssigned, DriverStatusChanged, DriverUnavailable, GROUPS, PriceCalculated } from '../events.js';

/**
 * driver: assigns a free driver of the booking's region once it is priced (the longest free
 * first), or says none is free; releases the driver when the booking is cancelled (the saga's
 * compensation) or completed. A driver is busy with one booking at a time: the assignment is one
 * conditional UPDATE, so two bookings never get the same driver, and a booking redelivered finds
 * its driver already assigned.
 */
export function registerDriverService(app: App<SqlTx>): void {
  const group = GROUPS.driver;
  const now = () => app.clock.now();

  app.on(PriceCalculated, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId, priceCents } = event.data;
    const [already] = await ctx.tx.query<{ driver_id: string }>('SELECT driver_id FROM drivers WHERE booking_id = $1', [bookingId]);
    if (already) return;
    const free = await ctx.tx.query<{ driver_id: string }>("SELECT driver_id FROM drivers WHERE region_id = $1 AND status = 'online' ORDER BY updated_at, driver_id LIMIT 5", [regionId]);
    for (const { driver_id: driverId } of free) {
      const taken = await ctx.tx.execute("UPDATE drivers SET status = 'busy', booking_id = $1, updated_at = $2 WHERE driver_id = $3 AND status = 'online'", [bookingId, now(), driverId]);
      if (taken === 0) continue; // another transaction took this one first
      await ctx.publish(DriverAssigned, { bookingId, riderId, regionId, driverId, priceCents });
      await ctx.publish(DriverStatusChanged, { driverId, regionId, status: 'busy', at: now() });
      return;
    }
    await ctx.publish(DriverUnavailable, { bookingId, riderId, regionId });
  });

  const release = async (tx: SqlTx, publish: Publish, booking: { bookingId: string; driverId: string | null; regionId: string }) => {
    if (booking.driverId === null) return;
    const released = await tx.execute("UPDATE drivers SET status = 'online', booking_id = NULL, updated_at = $1 WHERE driver_id = $2 AND booking_id = $3", [now(), booking.driverId, booking.bookingId]);
    if (released === 1) await publish(DriverStatusChanged, { driverId: booking.driverId, regionId: booking.regionId, status: 'online', at: now() });
  };
  app.on(BookingCancelled, { group }, async (event, ctx) => release(ctx.tx, ctx.publish, event.data));
  app.on(BookingCompleted, { group }, async (event, ctx) => release(ctx.tx, ctx.publish, event.data));
}
