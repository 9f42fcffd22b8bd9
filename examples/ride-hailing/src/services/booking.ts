import type { App, HandlerContext, SqlTx } from '@herald/core';
import {
  BookingCancelled,
  BookingConfirmed,
  DriverAssigned,
  DriverUnavailable,
  GROUPS,
  PaymentCompleted,
  PaymentFailed,
  PriceCalculated,
  SagaCompleted,
  SagaFailed,
  SagaStepCompleted,
} from '../events.js';

/** The statuses of a booking. */
export const BOOKING_STATUSES = ['PENDING', 'CONFIRMED', 'CANCELLED', 'COMPLETED'] as const;
/** One of {@link BOOKING_STATUSES}. */
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

/**
 * booking (seed 000's choreography saga): no orchestrator tells the others what to do; booking
 * listens to what pricing, driver and payment did, keeps the booking's status, and writes the saga
 * log (`booking-saga`: SagaStarted when the booking is created, SagaStepCompleted per step,
 * SagaCompleted or SagaFailed). A payment completed confirms the booking; a payment failed or no
 * driver cancels it, and BookingCancelled is the compensation the driver service acts on (it
 * releases the driver). A booking leaves PENDING once, whatever arrives again or late.
 */
export function registerBookingService(app: App<SqlTx>): void {
  const group = GROUPS.booking;
  const now = () => app.clock.now();
  const pending = async (tx: SqlTx, bookingId: string) =>
    (await tx.query<{ booking_id: string }>("SELECT booking_id FROM bookings WHERE booking_id = $1 AND status = 'PENDING'", [bookingId])).length === 1;

  app.on(PriceCalculated, { group }, async (event, ctx) => {
    const { bookingId, priceCents, surgeMultiplier } = event.data;
    if (!(await pending(ctx.tx, bookingId))) return;
    await ctx.tx.execute('UPDATE bookings SET price_cents = $1, surge_multiplier = $2, updated_at = $3 WHERE booking_id = $4', [priceCents, surgeMultiplier, now(), bookingId]);
    await ctx.publish(SagaStepCompleted, { bookingId, step: 'priced' });
  });

  app.on(DriverAssigned, { group }, async (event, ctx) => {
    const { bookingId, driverId } = event.data;
    if (!(await pending(ctx.tx, bookingId))) return;
    await ctx.tx.execute('UPDATE bookings SET driver_id = $1, updated_at = $2 WHERE booking_id = $3', [driverId, now(), bookingId]);
    await ctx.publish(SagaStepCompleted, { bookingId, step: 'driver-assigned' });
  });

  app.on(PaymentCompleted, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId, driverId, amountCents } = event.data;
    const confirmed = await ctx.tx.execute(
      "UPDATE bookings SET status = 'CONFIRMED', driver_id = $1, price_cents = $2, updated_at = $3 WHERE booking_id = $4 AND status = 'PENDING'",
      [driverId, amountCents, now(), bookingId],
    );
    if (confirmed === 0) return;
    await ctx.publish(BookingConfirmed, { bookingId, riderId, regionId, driverId, priceCents: amountCents, confirmedAt: now() });
    await ctx.publish(SagaStepCompleted, { bookingId, step: 'paid' });
    await ctx.publish(SagaCompleted, { bookingId });
    ctx.logger.info('booking confirmed', { bookingId, driverId });
  });

  const cancel = async (ctx: HandlerContext<SqlTx>, booking: { bookingId: string; riderId: string; regionId: string; driverId: string | null }, reason: string) => {
    const cancelled = await ctx.tx.execute(
      "UPDATE bookings SET status = 'CANCELLED', driver_id = $1, reason = $2, updated_at = $3 WHERE booking_id = $4 AND status = 'PENDING'",
      [booking.driverId, reason, now(), booking.bookingId],
    );
    if (cancelled === 0) return;
    await ctx.publish(BookingCancelled, { ...booking, reason, cancelledAt: now() });
    await ctx.publish(SagaFailed, { bookingId: booking.bookingId, reason });
    ctx.logger.info('booking cancelled', { bookingId: booking.bookingId, reason });
  };

  app.on(PaymentFailed, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId, driverId, reason } = event.data;
    await cancel(ctx, { bookingId, riderId, regionId, driverId }, `payment-failed: ${reason}`);
  });

  app.on(DriverUnavailable, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId } = event.data;
    await cancel(ctx, { bookingId, riderId, regionId, driverId: null }, 'no-driver');
  });
}
