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

/** One window's surge as pricing keeps it (`window_end` is a string where the driver returns BIGINT so). */
export interface SurgeRow {
  readonly multiplier: number;
  readonly bookings: number;
  readonly window_end: number | string;
}

/**
 * The multiplier in force at `at`, given the region's newest surge row whose window ended at or
 * before `at` (see {@link surgeRowAt}): a window's multiplier is for what comes after its end, the
 * window that follows it and that window's grace (`holdMs`), until that window's own result
 * replaces it. So it applies from its window's end, never to a booking created before that (a
 * booking priced late, after later windows closed, still gets the surge of its own moment). A
 * window with no booking closes with no result, so a row older than its hold is over: 1, not a
 * surge kept for hours by a quiet region.
 */
export function surgeInForce(row: Pick<SurgeRow, 'multiplier' | 'window_end'> | undefined, at: number, holdMs: number): number {
  if (row === undefined) return 1;
  const windowEnd = Number(row.window_end);
  return windowEnd <= at && at < windowEnd + holdMs ? row.multiplier : 1;
}

/** The region's newest surge row whose window ended at or before `at`, if pricing still keeps one. */
export async function surgeRowAt(tx: SqlTx, regionId: string, at: number): Promise<SurgeRow | undefined> {
  const [row] = await tx.query<SurgeRow>(
    'SELECT multiplier, bookings, window_end FROM pricing_surge_windows WHERE region_id = $1 AND window_end <= $2 ORDER BY window_end DESC LIMIT 1',
    [regionId, at],
  );
  return row;
}

/**
 * Keeps a closed window's surge, one row per (region, window end), then deletes the region's rows
 * whose window ended more than `holdMs` before its newest one's: the table stays at about two rows
 * per region. A booking is priced with the rows kept when it is priced, so one priced later than
 * that (pricing more than a window and its grace behind the surge results) finds no row and gets 1.
 */
export async function recordSurge(tx: SqlTx, surge: { readonly regionId: string; readonly multiplier: number; readonly bookings: number; readonly windowEnd: number }, holdMs: number): Promise<void> {
  const { regionId, multiplier, bookings, windowEnd } = surge;
  await tx.execute(
    `INSERT INTO pricing_surge_windows (region_id, window_end, multiplier, bookings) VALUES ($1, $2, $3, $4)
     ON CONFLICT (region_id, window_end) DO UPDATE SET multiplier = excluded.multiplier, bookings = excluded.bookings`,
    [regionId, windowEnd, multiplier, bookings],
  );
  await tx.execute(
    'DELETE FROM pricing_surge_windows WHERE region_id = $1 AND window_end < (SELECT MAX(window_end) FROM pricing_surge_windows WHERE region_id = $1) - $2',
    [regionId, holdMs],
  );
}

/** A ride's price: (base + distance × per km) × surge, rounded to the cent. */
export function priceOf(options: Pick<PricingOptions, 'baseFareCents' | 'perKmCents'>, distanceKm: number, surgeMultiplier: number): number {
  return Math.round((options.baseFareCents + distanceKm * options.perKmCents) * surgeMultiplier);
}

/**
 * pricing: prices each booking with its region's surge multiplier at the booking's creation, and
 * keeps each region's multipliers from the surge windows the realtime service closes (the newest
 * window ended by then wins; a quiet window brings the multiplier back to 1, and so does a window
 * with no booking at all, see {@link surgeInForce}).
 */
export function registerPricingService(app: App<SqlTx>, options: PricingOptions): void {
  const group = GROUPS.pricing;
  app.on(SurgePricingActivated, { group }, async (event, ctx) => {
    await recordSurge(ctx.tx, event.data, options.surgeHoldMs);
  });

  app.on(BookingCreated, { group }, async (event, ctx) => {
    const { bookingId, riderId, regionId, distanceKm, createdAt } = event.data;
    const surgeMultiplier = surgeInForce(await surgeRowAt(ctx.tx, regionId, createdAt), createdAt, options.surgeHoldMs);
    await ctx.publish(PriceCalculated, { bookingId, riderId, regionId, priceCents: priceOf(options, distanceKm, surgeMultiplier), surgeMultiplier });
  });
}
