import type { App, Logger, SqlTx } from '@herald/core';
import { createTopology, TimeWindows, type Topology } from '@herald/stream';
import { BookingCreated, DriverLocationUpdated, GROUPS, LocationAnomalyDetected, SurgePricingActivated } from '../events.js';

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

/** Options of {@link registerFraudService}. */
export interface FraudOptions {
  /** `FRAUD_MAX_SPEED_KMH`: a driver seen moving faster than this between two points raises an alert. */
  readonly maxSpeedKmh: number;
}

/** Great-circle distance in km between two points (haversine, on a 6,371 km sphere). */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * fraud (the seed's fraud-group, "резкие скачки локации водителя"): keeps each driver's last GPS
 * point and raises LocationAnomalyDetected when the next one implies a speed no car has. Points
 * arrive in order per driver (keyed by driver); one older than the last kept is ignored.
 */
export function registerFraudService(app: App<SqlTx>, options: FraudOptions): void {
  app.on(DriverLocationUpdated, { group: GROUPS.fraud }, async (event, ctx) => {
    const { driverId, lat, lon, at } = event.data;
    const [last] = await ctx.tx.query<{ lat: number; lon: number; at: number }>('SELECT lat, lon, at FROM fraud_last_location WHERE driver_id = $1', [driverId]);
    if (last && last.at >= at) return;
    await ctx.tx.execute(
      'INSERT INTO fraud_last_location (driver_id, lat, lon, at) VALUES ($1, $2, $3, $4) ON CONFLICT (driver_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, at = excluded.at',
      [driverId, lat, lon, at],
    );
    if (!last) return;
    const hours = (at - last.at) / 3_600_000;
    const speedKmh = distanceKm({ lat: last.lat, lon: last.lon }, { lat, lon }) / hours;
    if (speedKmh <= options.maxSpeedKmh) return;
    const alert = { driverId, speedKmh: Math.round(speedKmh), fromAt: last.at, toAt: at };
    await ctx.tx.execute('INSERT INTO fraud_alerts (alert_id, driver_id, speed_kmh, from_at, to_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alert_id) DO NOTHING', [
      `${driverId}:${at}`,
      driverId,
      alert.speedKmh,
      alert.fromAt,
      alert.toAt,
    ]);
    await ctx.publish(LocationAnomalyDetected, alert);
    ctx.logger.warn('driver location anomaly', alert);
  });
}
