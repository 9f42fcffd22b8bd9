import type { App, SqlTx } from '@herald/core';
import { DriverLocationUpdated, GROUPS, LocationAnomalyDetected } from '../events.js';

/** The rule of {@link registerLocationFraud}, as `GET /fraud/alerts` names it. */
export const IMPOSSIBLE_SPEED = 'impossible-speed';

/** Great-circle distance in km between two points (haversine, on a 6,371 km sphere). */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * The fraud service's location-fraud-group (the seed's "резкие скачки локации водителя"; not its
 * fraud-group, which reads only payment and booking events): keeps each driver's last GPS point
 * and raises LocationAnomalyDetected when the next one implies more than `maxSpeedKmh`. Points
 * arrive in order per driver (keyed by driver); one no newer than the last kept is ignored. An
 * alert is kept and published once, by the driver and the point's time.
 */
export function registerLocationFraud(app: App<SqlTx>, options: { readonly maxSpeedKmh: number }): void {
  app.on(DriverLocationUpdated, { group: GROUPS.locationFraud }, async (event, ctx) => {
    const { driverId, lat, lon, at } = event.data;
    const [last] = await ctx.tx.query<{ lat: number; lon: number; at: number }>('SELECT lat, lon, at FROM fraud_last_location WHERE driver_id = $1', [driverId]);
    if (last && last.at >= at) return;
    await ctx.tx.execute(
      'INSERT INTO fraud_last_location (driver_id, lat, lon, at) VALUES ($1, $2, $3, $4) ON CONFLICT (driver_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, at = excluded.at',
      [driverId, lat, lon, at],
    );
    if (!last) return;
    const speedKmh = distanceKm(last, { lat, lon }) / ((at - last.at) / 3_600_000);
    if (speedKmh <= options.maxSpeedKmh) return;
    const alert = { driverId, speedKmh: Math.round(speedKmh), fromAt: last.at, toAt: at };
    const raised = await ctx.tx.execute(
      'INSERT INTO fraud_rule_alerts (alert_id, rule, subject_id, event_count, speed_kmh, from_at, to_at) VALUES ($1, $2, $3, NULL, $4, $5, $6) ON CONFLICT (alert_id) DO NOTHING',
      [`${IMPOSSIBLE_SPEED}:${driverId}:${at}`, IMPOSSIBLE_SPEED, driverId, alert.speedKmh, alert.fromAt, alert.toAt],
    );
    if (raised === 0) return;
    await ctx.publish(LocationAnomalyDetected, alert);
    ctx.logger.warn('driver location anomaly', alert);
  });
}
