import type { App, SqlTx } from '@herald/core';
import { BookingCreated, GROUPS, PriceCalculated, SurgePricingActivated } from '../events.js';

/** Options of {@link registerPricingService}. */
export interface PricingOptions {
  /** `BASE_FARE_CENTS`: what every ride costs before distance. */
  readonly baseFareCents: number;
  /** `PER_KM_CENTS`: what each kilometre adds. */
  readonly perKmCents: number;
}

/** A ride's price: (base + distance × per km) × surge, rounded to the cent. */
export function priceOf(options: PricingOptions, distanceKm: number, surgeMultiplier: number): number {
  return Math.round((options.baseFareCents + distanceKm * options.perKmCents) * surgeMultiplier);
}

/**
 * pricing: prices each booking with its region's surge multiplier at that moment, and keeps each
 * region's multiplier from the surge windows the realtime service closes (the newest window wins;
 * a quiet window brings the multiplier back to 1).
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
    const { bookingId, riderId, regionId, distanceKm } = event.data;
    const [surge] = await ctx.tx.query<{ multiplier: number }>('SELECT multiplier FROM pricing_surge WHERE region_id = $1', [regionId]);
    const surgeMultiplier = surge ? surge.multiplier : 1;
    await ctx.publish(PriceCalculated, { bookingId, riderId, regionId, priceCents: priceOf(options, distanceKm, surgeMultiplier), surgeMultiplier });
  });
}
