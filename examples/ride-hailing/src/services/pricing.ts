import type { App, SqlTx } from '@herald/core';
import { BookingCreated, GROUPS, PriceCalculated, SurgePricingActivated } from '../events.js';

/** Options of {@link registerPricingService}. */
export interface PricingOptions {
  /** `BASE_FARE_CENTS`: what every ride costs before distance. */
  readonly baseFareCents: number;
  /** `PER_KM_CENTS`: what each kilometre adds. */
  readonly perKmCents: number;
  /** How long a surge holds past the end of its window: the next window and its grace (`SURGE_WINDOW_MS` + `SURGE_GRACE_MS`). */
  readonly surgeHoldMs: number;
}

/**
 * The multiplier in force at `at` from a region's newest surge row: a window's multiplier is for
 * the window that follows it, whose own result replaces it once that window closes. A window with
 * no booking closes with no result, so a row older than that (its window's end plus one window and
 * the grace) is over: 1, not a surge kept for hours by a quiet region.
 */
export function surgeInForce(row: { readonly multiplier: number; readonly window_end: number | string } | undefined, at: number, holdMs: number): number {
  return row !== undefined && at < Number(row.window_end) + holdMs ? row.multiplier : 1;
}

/** A ride's price: (base + distance × per km) × surge, rounded to the cent. */
export function priceOf(options: Pick<PricingOptions, 'baseFareCents' | 'perKmCents'>, distanceKm: number, surgeMultiplier: number): number {
  return Math.round((options.baseFareCents + distanceKm * options.perKmCents) * surgeMultiplier);
}

/**
 * pricing: prices each booking with its region's surge multiplier at that moment, and keeps each
 * region's multiplier from the surge windows the realtime service closes (the newest window wins;
 * a quiet window brings the multiplier back to 1, and so does a window with no booking at all, see
 * {@link surgeInForce}).
 */
export function registerPricingService(app: App<SqlTx>, options: PricingOptions): void {
  const group = GROUPS.pricing;
  app.on(SurgePricingActivated, { group }, async (event, ctx) => {
    const { regionId, multiplier, bookings, windowEnd } = event.data;
    await ctx.tx.execute(
      `INSERT INTO pricing_surge (region_id, multiplier, bookings, window_end) VALUES ($1, $2, $3, $4)
       ON CONFLICT (region_id) DO UPDATE SET multiplier = excluded.multiplier, bookings = excluded.bookings, window_end = excluded.window_end
       WHERE pricing_surge.window_end < excluded.window_end`,
      [regionId, multiplier, bookings, windowEnd],
    );
  });

  app.on(BookingCreated, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId, distanceKm, createdAt } = event.data;
    const [surge] = await ctx.tx.query<{ multiplier: number; window_end: number }>('SELECT multiplier, window_end FROM pricing_surge WHERE region_id = $1', [regionId]);
    const surgeMultiplier = surgeInForce(surge, createdAt, options.surgeHoldMs);
    await ctx.publish(PriceCalculated, { bookingId, riderId, regionId, priceCents: priceOf(options, distanceKm, surgeMultiplier), surgeMultiplier });
  });
}
