import { ErrorCodes, HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import type { Gateway } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { BookingCompleted, BookingCreated, DriverLocationUpdated, DriverStatusChanged, SagaStarted } from '../events.js';
import type { BookingStatus } from './booking.js';
import { FRAUD_RULES, type FraudRule } from './fraud.js';
import { IMPOSSIBLE_SPEED } from './locationFraud.js';
import { surgeInForce, surgeRowAt } from './pricing.js';

/** Domain error codes of the routes. */
export const API_ERRORS = {
  bookingNotFound: 'booking-not-found',
  bookingNotConfirmed: 'booking-not-confirmed',
  driverNotFound: 'driver-not-found',
  driverBusy: 'driver-busy',
  riderNotFound: 'rider-not-found',
  unknownRider: 'unknown-rider',
  pointInFuture: 'point-in-future',
} as const;

/** `errorKinds` of the gateway for {@link API_ERRORS}. */
export const API_ERROR_KINDS: Readonly<Record<string, string>> = {
  [API_ERRORS.bookingNotFound]: 'not-found',
  [API_ERRORS.bookingNotConfirmed]: 'conflict',
  [API_ERRORS.driverNotFound]: 'not-found',
  [API_ERRORS.driverBusy]: 'conflict',
  [API_ERRORS.riderNotFound]: 'not-found',
  [API_ERRORS.unknownRider]: ErrorCodes.invalidOptions,
  [API_ERRORS.pointInFuture]: ErrorCodes.invalidOptions,
};

/** Text PostgreSQL can store: anything but NUL. */
const NO_NUL = '^[^\\u0000]*$';
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL });
// a path id is looked up whatever its shape: one that is nobody's is 404 (a path too long for the
// gateway is its 414 uri-too-long; U+0000 and lone surrogates are the gateway's 422 everywhere)
const IdParams = Type.Object({ id: Type.String() });
const Region = Type.String({ minLength: 1, maxLength: 50, pattern: '^[a-z0-9-]+$' });
// a rider is its wallet (payment's): nothing keeps or shows a name, so none is taken (422 for one)
const RiderBody = Type.Object({ balanceCents: Type.Integer({ minimum: 0, maximum: 100_000_000 }) }, { additionalProperties: false });
const DriverBody = Type.Object({ regionId: Region }, { additionalProperties: false });
const StatusBody = Type.Object({ status: Type.Union([Type.Literal('online'), Type.Literal('offline')]) }, { additionalProperties: false });
const LocationBody = Type.Object(
  { lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }), at: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);
const BookingBody = Type.Object({ riderId: Id, regionId: Region, distanceKm: Type.Number({ minimum: 0.1, maximum: 500 }) }, { additionalProperties: false });

/** `GET /fraud/alerts`: the newest first, `limit` 1 to 500 (default {@link DEFAULT_FRAUD_ALERTS}), of one `rule` or all. */
const FraudAlertsQuery = Type.Object(
  {
    rule: Type.Optional(Type.Union(FRAUD_RULES.map((r) => Type.Literal(r)))),
    // a query string holds text: digits, checked here
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$' })),
  },
  { additionalProperties: false },
);
const DEFAULT_FRAUD_ALERTS = 50;

/** How far ahead of the server's clock a GPS point's time may be. */
const MAX_CLOCK_SKEW_MS = 60_000;

interface BookingRow {
  booking_id: string;
  rider_id: string;
  region_id: string;
  distance_km: number;
  status: BookingStatus;
  price_cents: number | null;
  surge_multiplier: number | null;
  driver_id: string | null;
  reason: string | null;
}

/**
 * The HTTP front of seed 000's services: riders (payment's wallets), drivers (status, GPS points
 * appended straight to the log), bookings, and the read sides (a booking's status, a region's
 * surge, a rider's pushes, the newest fraud alerts). `POST /bookings` answers 202 at once: the
 * booking goes through pricing, driver and payment by events, and `GET /bookings/{id}` shows where
 * it is.
 */
export function registerApiRoutes(gateway: Gateway<SqlTx>, app: App<SqlTx>, options: { readonly surgeHoldMs: number }): void {
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.read(work);
  const now = () => app.clock.now();

  gateway.command({
    method: 'POST',
    url: '/riders',
    body: RiderBody,
    status: 201,
    handle: async ({ body, tx }) => {
      const riderId = uuidv7();
      await tx.execute('INSERT INTO wallets (rider_id, balance_cents) VALUES ($1, $2)', [riderId, body.balanceCents]);
      return { riderId, balanceCents: body.balanceCents };
    },
  });

  gateway.query({
    url: '/riders/:id/wallet',
    params: IdParams,
    handle: async ({ params }) => {
      const [row] = await read((tx) => tx.query<{ balance_cents: number }>('SELECT balance_cents FROM wallets WHERE rider_id = $1', [params.id]));
      if (!row) throw new HeraldError(API_ERRORS.riderNotFound, `no rider ${params.id}`);
      return { riderId: params.id, balanceCents: row.balance_cents };
    },
  });

  gateway.query({
    url: '/riders/:id/notifications',
    params: IdParams,
    handle: async ({ params }) => {
      const rows = await read((tx) =>
        tx.query<{ notification_id: string; type: string; text: string }>('SELECT notification_id, type, text FROM ride_notifications WHERE rider_id = $1 ORDER BY created_at, notification_id', [params.id]),
      );
      return { notifications: rows.map((r) => ({ notificationId: r.notification_id, type: r.type, text: r.text })) };
    },
  });

  gateway.command({
    method: 'POST',
    url: '/drivers',
    body: DriverBody,
    status: 201,
    handle: async ({ body, tx, publish }) => {
      const driverId = uuidv7();
      const at = now();
      await tx.execute("INSERT INTO drivers (driver_id, region_id, status, booking_id, updated_at) VALUES ($1, $2, 'offline', NULL, $3)", [driverId, body.regionId, at]);
      await publish(DriverStatusChanged, { driverId, regionId: body.regionId, status: 'offline', at });
      return { driverId, regionId: body.regionId, status: 'offline' };
    },
  });

  gateway.command({
    method: 'POST',
    url: '/drivers/:id/status',
    params: IdParams,
    body: StatusBody,
    handle: async ({ params, body, tx, publish }) => {
      const [driver] = await tx.query<{ region_id: string; status: string }>('SELECT region_id, status FROM drivers WHERE driver_id = $1', [params.id]);
      if (!driver) throw new HeraldError(API_ERRORS.driverNotFound, `no driver ${params.id}`);
      const at = now();
      const changed = await tx.execute("UPDATE drivers SET status = $1, updated_at = $2 WHERE driver_id = $3 AND status <> 'busy'", [body.status, at, params.id]);
      if (changed === 0) throw new HeraldError(API_ERRORS.driverBusy, `driver ${params.id} is on a ride; the status changes when it ends`);
      await publish(DriverStatusChanged, { driverId: params.id, regionId: driver.region_id, status: body.status, at });
      return { driverId: params.id, status: body.status };
    },
  });

  gateway.query({
    url: '/drivers/:id',
    params: IdParams,
    handle: async ({ params }) => {
      const [row] = await read((tx) => tx.query<{ region_id: string; status: string; booking_id: string | null }>('SELECT region_id, status, booking_id FROM drivers WHERE driver_id = $1', [params.id]));
      if (!row) throw new HeraldError(API_ERRORS.driverNotFound, `no driver ${params.id}`);
      return { driverId: params.id, regionId: row.region_id, status: row.status, bookingId: row.booking_id };
    },
  });

  // GPS points: no business state changes with them, so they go straight to the log (no outbox)
  gateway.ingest({
    url: '/drivers/:id/locations',
    params: IdParams,
    body: LocationBody,
    handle: async ({ params, body, publish }) => {
      const at = body.at ?? now();
      // a point from the future would hide every real one after it from the fraud checks
      if (at > now() + MAX_CLOCK_SKEW_MS) throw new HeraldError(API_ERRORS.pointInFuture, `at ${at} is more than ${MAX_CLOCK_SKEW_MS / 1000} s ahead of the server's clock`);
      const [driver] = await read((tx) => tx.query('SELECT 1 FROM drivers WHERE driver_id = $1', [params.id]));
      if (!driver) throw new HeraldError(API_ERRORS.driverNotFound, `no driver ${params.id}`);
      await publish(DriverLocationUpdated, { driverId: params.id, lat: body.lat, lon: body.lon, at });
      return { accepted: 1 };
    },
  });

  gateway.command({
    method: 'POST',
    url: '/bookings',
    body: BookingBody,
    status: 202,
    handle: async ({ body, tx, publish }) => {
      const [wallet] = await tx.query('SELECT 1 FROM wallets WHERE rider_id = $1', [body.riderId]);
      if (!wallet) throw new HeraldError(API_ERRORS.unknownRider, `no rider ${body.riderId}`);
      const bookingId = uuidv7();
      const createdAt = now();
      await tx.execute(
        "INSERT INTO bookings (booking_id, rider_id, region_id, distance_km, status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'PENDING', $5, $5)",
        [bookingId, body.riderId, body.regionId, body.distanceKm, createdAt],
      );
      await publish(BookingCreated, { bookingId, ...body, createdAt });
      await publish(SagaStarted, { bookingId });
      return { bookingId, status: 'PENDING' as const };
    },
    headers: (result) => ({ location: `/bookings/${result.bookingId}` }),
  });

  const booking = async (tx: SqlTx, bookingId: string) => {
    const [row] = await tx.query<BookingRow>('SELECT * FROM bookings WHERE booking_id = $1', [bookingId]);
    if (!row) throw new HeraldError(API_ERRORS.bookingNotFound, `no booking ${bookingId}`);
    return row;
  };

  gateway.query({
    url: '/bookings/:id',
    params: IdParams,
    handle: async ({ params }) => {
      const row = await read((tx) => booking(tx, params.id));
      return {
        bookingId: row.booking_id,
        riderId: row.rider_id,
        regionId: row.region_id,
        distanceKm: row.distance_km,
        status: row.status,
        priceCents: row.price_cents === null ? null : row.price_cents,
        surgeMultiplier: row.surge_multiplier === null ? null : row.surge_multiplier,
        driverId: row.driver_id,
        reason: row.reason,
      };
    },
  });

  gateway.command({
    method: 'POST',
    url: '/bookings/:id/complete',
    params: IdParams,
    handle: async ({ params, tx, publish }) => {
      // the change first, then the row as it now is (no confirmation can slip in between)
      const completed = await tx.execute("UPDATE bookings SET status = 'COMPLETED', updated_at = $1 WHERE booking_id = $2 AND status = 'CONFIRMED'", [now(), params.id]);
      const row = await booking(tx, params.id);
      if (completed === 0) throw new HeraldError(API_ERRORS.bookingNotConfirmed, `booking ${params.id} is ${row.status}; only a CONFIRMED booking can be completed`);
      await publish(BookingCompleted, { bookingId: params.id, riderId: row.rider_id, regionId: row.region_id, driverId: row.driver_id!, completedAt: now() });
      return { bookingId: params.id, status: 'COMPLETED' as const };
    },
  });

  gateway.query({
    url: '/regions/:id/surge',
    // a region id as bookings name it: a typo is 422, not a region answering "no surge"
    params: Type.Object({ id: Region }),
    handle: async ({ params }) => {
      const at = now();
      const row = await read((tx) => surgeRowAt(tx, params.id, at));
      // the multiplier in force now, as pricing would apply it, and the window it came from (its
      // bookings, its end); none yet, or over: 1
      return { regionId: params.id, multiplier: surgeInForce(row, at, options.surgeHoldMs), bookings: row ? row.bookings : null, windowEnd: row ? Number(row.window_end) : null };
    },
  });

  gateway.query({
    url: '/fraud/alerts',
    querystring: FraudAlertsQuery,
    handle: async ({ query }) => {
      const limit = query.limit === undefined ? DEFAULT_FRAUD_ALERTS : Number(query.limit);
      const rows = await read((tx) =>
        query.rule === undefined
          ? tx.query<FraudAlertRow>('SELECT * FROM fraud_rule_alerts ORDER BY to_at DESC, alert_id DESC LIMIT $1', [limit])
          : tx.query<FraudAlertRow>('SELECT * FROM fraud_rule_alerts WHERE rule = $1 ORDER BY to_at DESC, alert_id DESC LIMIT $2', [query.rule, limit]),
      );
      return { alerts: rows.map(fraudAlertView) };
    },
  });
}

interface FraudAlertRow {
  alert_id: string;
  rule: FraudRule;
  subject_id: string;
  event_count: number | null;
  speed_kmh: number | null;
  from_at: number;
  to_at: number;
}

/** An alert as `GET /fraud/alerts` shows it: a rider rule's window and count, or a driver's speed between two points. */
function fraudAlertView(row: FraudAlertRow) {
  const base = { alertId: row.alert_id, rule: row.rule, fromAt: row.from_at, toAt: row.to_at };
  return row.rule === IMPOSSIBLE_SPEED ? { ...base, driverId: row.subject_id, speedKmh: row.speed_kmh } : { ...base, riderId: row.subject_id, count: row.event_count };
}
