import type { App, Logger, SqlTx } from '@herald/core';
import { createTopology, TimeWindows, type Topology } from '@herald/stream';
import { BookingCreated, GROUPS, SurgePricingActivated } from '../events.js';

/** Options of {@link registerSurgePricing}. */
export interface SurgeOptions {
  /** `SURGE_WINDOW_MS`: the window bookings are counted in, per region (the seed's 5 minutes). */
  readonly windowMs: number;
  /** `SURGE_GRACE_MS`: how long after its end (in event time) a window still takes late bookings. */
  readonly graceMs: number;
  /** `SURGE_THRESHOLD`: bookings in one window above which a region's prices rise. */
  readonly threshold: number;
  /** `STREAM_IDLE_TIMEOUT_MS`: after this much wall-clock time without bookings, a partition's windows close anyway. */
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * The multiplier of a window with `bookings` bookings: 1 up to `threshold`, then +0.1 for each
 * 10% over it, at most 2.5.
 */
export function surgeMultiplier(bookings: number, threshold: number): number {
  if (bookings <= threshold) return 1;
  const over = Math.ceil(((bookings - threshold) / threshold) * 10) / 10;
  return Math.min(2.5, Math.round((1 + over) * 10) / 10);
}

/**
 * realtime (the seed's Flink job "считаем поездки по регионам за 5 минут для surge pricing"):
 * counts each region's bookings in tumbling windows on event time, and when a window closes
 * publishes SurgePricingActivated with the region's multiplier for what comes next — 1 when the
 * window stayed under the threshold, which ends a surge. State, inbox marks and results commit
 * together (see @herald/stream), so a crash or a replay counts no booking twice. A booking later
 * than its window's grace is logged and counted by the stream, never silently dropped.
 */
export function registerSurgePricing(app: App<SqlTx>, options: SurgeOptions): Topology<SqlTx> {
  const topology = createTopology<SqlTx>({ name: GROUPS.surge, idleTimeoutMs: options.idleTimeoutMs });
  topology
    .from(BookingCreated)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(options.windowMs, options.graceMs))
    .count('bookings-per-region', {
      late: {
        handler: async (late) => options.logger.info('late booking left out of its surge window', { regionId: late.key, at: late.timestamp, windows: late.windows }),
      },
    })
    .to(SurgePricingActivated, (result) => ({
      regionId: result.key,
      multiplier: surgeMultiplier(result.value.value, options.threshold),
      bookings: result.value.value,
      windowStart: result.value.start,
      windowEnd: result.value.end,
    }));
  topology.install(app);
  return topology;
}
