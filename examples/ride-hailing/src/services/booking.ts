import type { App, HandlerContext, SqlTx } from '@herald/core';
import type {
  SAGA_STEPS} from '../events.js';
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
  SagaStepCompleted
} from '../events.js';

/** The statuses of a booking. */
export const BOOKING_STATUSES = ['PENDING', 'CONFIRMED', 'CANCELLED', 'COMPLETED'] as const;
/** One of {@link BOOKING_STATUSES}. */
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

/**
 * booking (seed 000's choreography saga): no orchestrator tells the others what to do; booking
 * listens to what pricing, driver and payment did, keeps the booking's status, and writes the saga
 * log (`booking-saga`: SagaStarted when the booking is created, SagaStepCompleted once per step,
 * SagaCompleted or SagaFailed). A payment completed confirms the booking; a payment failed or no
 * driver cancels it, and BookingCancelled is the compensation the driver service acts on (it
 * releases the driver). The steps come on three topics, so booking may learn of the payment before
 * the price: each step is recorded whenever it arrives (a step logged once, by its row in
 * `booking_saga_steps`), and only the status waits for nothing — a booking leaves PENDING once.
 */
export function registerBookingService(app: App<SqlTx>): void {
  const group = GROUPS.booking;
  const now = () => app.clock.now();
  /** Logs `step` of the saga once: true the first time. */
  const logStep = async (ctx: HandlerContext<SqlTx>, bookingId: string, step: (typeof SAGA_STEPS)[number]) => {
    const fresh = await ctx.tx.execute('INSERT INTO booking_saga_steps (booking_id, step) VALUES ($1, $2) ON CONFLICT (booking_id, step) DO NOTHING', [bookingId, step]);
    if (fresh === 1) await ctx.publish(SagaStepCompleted, { bookingId, step });
  };

  app.on(PriceCalculated, { group }, async (event, ctx) => {
    const { bookingId, priceCents, surgeMultiplier } = event.data;
    await ctx.tx.execute('UPDATE bookings SET price_cents = $1, surge_multiplier = $2, updated_at = $3 WHERE booking_id = $4 AND surge_multiplier IS NULL', [
      priceCents,
      surgeMultiplier,
      now(),
      bookingId,
    ]);
    await logStep(ctx, bookingId, 'priced');
  });

  app.on(DriverAssigned, { group }, async (event, ctx) => {
    const { bookingId, driverId } = event.data;
    await ctx.tx.execute('UPDATE bookings SET driver_id = $1, updated_at = $2 WHERE booking_id = $3 AND driver_id IS NULL', [driverId, now(), bookingId]);
    await logStep(ctx, bookingId, 'driver-assigned');
  });

  app.on(PaymentCompleted, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId, driverId, amountCents } = event.data;
    const confirmed = await ctx.tx.execute(
      "UPDATE bookings SET status = 'CONFIRMED', driver_id = $1, price_cents = $2, updated_at = $3 WHERE booking_id = $4 AND status = 'PENDING'",
      [driverId, amountCents, now(), bookingId],
    );
    if (confirmed === 0) return;
    await ctx.publish(BookingConfirmed, { bookingId, riderId, regionId, driverId, priceCents: amountCents, confirmedAt: now() });
    await logStep(ctx, bookingId, 'paid');
    await ctx.publish(SagaCompleted, { bookingId });
    ctx.logger.info('booking confirmed', { bookingId, driverId });
  });

  const cancel = async (
    ctx: HandlerContext<SqlTx>,
    booking: { bookingId: string; riderId: string; regionId: string; driverId: string | null; priceCents: number | null },
    reason: string,
  ) => {
    const cancelled = await ctx.tx.execute(
      "UPDATE bookings SET status = 'CANCELLED', driver_id = COALESCE($1, driver_id), price_cents = COALESCE($2, price_cents), reason = $3, updated_at = $4 WHERE booking_id = $5 AND status = 'PENDING'",
      [booking.driverId, booking.priceCents, reason, now(), booking.bookingId],
    );
    if (cancelled === 0) return;
    const { bookingId, riderId, regionId, driverId } = booking;
    await ctx.publish(BookingCancelled, { bookingId, riderId, regionId, driverId, reason, cancelledAt: now() });
    await ctx.publish(SagaFailed, { bookingId, reason });
    ctx.logger.info('booking cancelled', { bookingId, reason });
  };

  app.on(PaymentFailed, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId, driverId, amountCents, reason } = event.data;
    await cancel(ctx, { bookingId, riderId, regionId, driverId, priceCents: amountCents }, `payment-failed: ${reason}`);
  });

  app.on(DriverUnavailable, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId } = event.data;
    await cancel(ctx, { bookingId, riderId, regionId, driverId: null, priceCents: null }, 'no-driver');
  });
}
