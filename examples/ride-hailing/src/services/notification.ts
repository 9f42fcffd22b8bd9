import type { App, SqlTx } from '@herald/core';
import { BookingCancelled, BookingConfirmed, GROUPS } from '../events.js';

/**
 * notification (the seed's notifications-group): a push to the rider when the booking is confirmed
 * or cancelled (the seed's "Notification шлет пуш пользователю"). One push per booking and kind,
 * by id, whatever is delivered again.
 */
export function registerNotificationService(app: App<SqlTx>): void {
  const push = (tx: SqlTx, id: string, riderId: string, type: string, text: string) =>
    tx.execute('INSERT INTO ride_notifications (notification_id, rider_id, type, text, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (notification_id) DO NOTHING', [
      id,
      riderId,
      type,
      text,
      app.clock.now(),
    ]);
  app.on(BookingConfirmed, { group: GROUPS.notification }, async (event, ctx) => {
    const { bookingId, riderId, driverId, priceCents } = event.data;
    await push(ctx.tx, `confirmed:${bookingId}`, riderId, 'BOOKING_CONFIRMED', `Driver ${driverId} is on the way; ${(priceCents / 100).toFixed(2)} paid`);
  });
  app.on(BookingCancelled, { group: GROUPS.notification }, async (event, ctx) => {
    const { bookingId, riderId, reason } = event.data;
    await push(ctx.tx, `cancelled:${bookingId}`, riderId, 'BOOKING_CANCELLED', `Your booking was cancelled (${reason})`);
  });
}
