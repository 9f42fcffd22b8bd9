import { defineEvent } from '@herald/core';
import { Type } from '@sinclair/typebox';

// Seed 000's events, on its topics. Booking and pricing events are keyed by region (the seed's
// partitioning: a region's events in one partition, in order), driver events by driver (a
// driver's GPS points in order; DriverUnavailable, which names no driver, by region), payment
// events by rider (a rider's payments in order), and the saga log by booking. Money is in integer
// cents.

const Id = Type.String({ minLength: 1, maxLength: 100 });
const Region = Type.String({ minLength: 1, maxLength: 50 });
const Cents = Type.Integer({ minimum: 0 });

/** booking: a rider asked for a ride (starts the choreography). */
export const BookingCreated = defineEvent({
  type: 'BookingCreated',
  topic: 'booking-events',
  key: (d) => d.regionId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, distanceKm: Type.Number({ minimum: 0 }), createdAt: Type.Integer() }),
});

/** booking: paid for and a driver on the way (the seed's "Booking меняет статус на Confirmed"). */
export const BookingConfirmed = defineEvent({
  type: 'BookingConfirmed',
  topic: 'booking-events',
  key: (d) => d.regionId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, driverId: Id, priceCents: Cents, confirmedAt: Type.Integer() }),
});

/** booking: given up (no driver, or the payment failed); the driver, if any, is released. */
export const BookingCancelled = defineEvent({
  type: 'BookingCancelled',
  topic: 'booking-events',
  key: (d) => d.regionId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, driverId: Type.Union([Id, Type.Null()]), reason: Type.String(), cancelledAt: Type.Integer() }),
});

/** booking: the ride is over; the driver is free again. */
export const BookingCompleted = defineEvent({
  type: 'BookingCompleted',
  topic: 'booking-events',
  key: (d) => d.regionId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, driverId: Id, completedAt: Type.Integer() }),
});

/** pricing: the booking's price, with the region's surge multiplier at that moment. */
export const PriceCalculated = defineEvent({
  type: 'PriceCalculated',
  topic: 'pricing-events',
  key: (d) => d.regionId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, priceCents: Cents, surgeMultiplier: Type.Number({ minimum: 1 }) }),
});

/** realtime: a region had more bookings in a window than its threshold; prices there rise. */
export const SurgePricingActivated = defineEvent({
  type: 'SurgePricingActivated',
  topic: 'pricing-events',
  key: (d) => d.regionId,
  schema: Type.Object({ regionId: Region, multiplier: Type.Number({ minimum: 1 }), bookings: Type.Integer(), windowStart: Type.Integer(), windowEnd: Type.Integer() }),
});

/** driver: a driver went online, offline or busy (from the driver app, or on assignment). */
export const DriverStatusChanged = defineEvent({
  type: 'DriverStatusChanged',
  topic: 'driver-events',
  key: (d) => d.driverId,
  schema: Type.Object({ driverId: Id, regionId: Region, status: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('busy')]), at: Type.Integer() }),
});

/** driver: a GPS point (every 5 s from a driver's app). */
export const DriverLocationUpdated = defineEvent({
  type: 'DriverLocationUpdated',
  topic: 'driver-events',
  key: (d) => d.driverId,
  schema: Type.Object({ driverId: Id, lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }), at: Type.Integer() }),
});

/** driver: a driver of the region took the booking. */
export const DriverAssigned = defineEvent({
  type: 'DriverAssigned',
  topic: 'driver-events',
  key: (d) => d.driverId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, driverId: Id, priceCents: Cents }),
});

/** driver: no driver of the region was free. */
export const DriverUnavailable = defineEvent({
  type: 'DriverUnavailable',
  topic: 'driver-events',
  key: (d) => d.regionId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region }),
});

/** payment: the rider paid. */
export const PaymentCompleted = defineEvent({
  type: 'PaymentCompleted',
  topic: 'payment-events',
  key: (d) => d.riderId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, driverId: Id, amountCents: Cents }),
});

/** payment: the rider could not pay (the seed's "Если платеж упал"). */
export const PaymentFailed = defineEvent({
  type: 'PaymentFailed',
  topic: 'payment-events',
  key: (d) => d.riderId,
  schema: Type.Object({ bookingId: Id, riderId: Id, regionId: Region, driverId: Id, amountCents: Cents, reason: Type.String() }),
});

/** fraud (location-fraud-group): a driver's location jumped faster than a car can go. */
export const LocationAnomalyDetected = defineEvent({
  type: 'LocationAnomalyDetected',
  topic: 'fraud-alerts',
  key: (d) => d.driverId,
  schema: Type.Object({ driverId: Id, speedKmh: Type.Number(), fromAt: Type.Integer(), toAt: Type.Integer() }),
});

/** The fraud-group's rules over one rider's payments and bookings (see services/fraud.ts). */
export const RIDER_FRAUD_RULES = ['repeated-failed-payments', 'booking-burst'] as const;

/**
 * fraud (fraud-group): one rider reached a rule's count in one window of event time: that many
 * failed payments (card testing), or that many bookings. Raised once per rider, rule and window,
 * with the window's bookings as they stood then (`count` keeps growing in `GET /fraud/alerts`).
 */
export const RiderFraudSuspected = defineEvent({
  type: 'RiderFraudSuspected',
  topic: 'fraud-alerts',
  key: (d) => d.riderId,
  schema: Type.Object({
    alertId: Id,
    rule: Type.Union(RIDER_FRAUD_RULES.map((r) => Type.Literal(r))),
    riderId: Id,
    bookingIds: Type.Array(Id),
    windowStart: Type.Integer(),
    windowEnd: Type.Integer(),
  }),
});

/** The saga log's steps (the seed's booking-saga topic). */
export const SAGA_STEPS = ['priced', 'driver-assigned', 'paid'] as const;

/** booking: the saga log of one booking (SagaStarted, SagaStepCompleted, SagaFailed, SagaCompleted). */
export const SagaStarted = defineEvent({ type: 'SagaStarted', topic: 'booking-saga', key: (d) => d.bookingId, schema: Type.Object({ bookingId: Id }) });
export const SagaStepCompleted = defineEvent({
  type: 'SagaStepCompleted',
  topic: 'booking-saga',
  key: (d) => d.bookingId,
  schema: Type.Object({ bookingId: Id, step: Type.Union(SAGA_STEPS.map((s) => Type.Literal(s))) }),
});
export const SagaFailed = defineEvent({ type: 'SagaFailed', topic: 'booking-saga', key: (d) => d.bookingId, schema: Type.Object({ bookingId: Id, reason: Type.String() }) });
export const SagaCompleted = defineEvent({ type: 'SagaCompleted', topic: 'booking-saga', key: (d) => d.bookingId, schema: Type.Object({ bookingId: Id }) });

/** Every event type of the example, registered in each process. */
export const EVENTS = [
  BookingCreated,
  BookingConfirmed,
  BookingCancelled,
  BookingCompleted,
  PriceCalculated,
  SurgePricingActivated,
  DriverStatusChanged,
  DriverLocationUpdated,
  DriverAssigned,
  DriverUnavailable,
  PaymentCompleted,
  PaymentFailed,
  LocationAnomalyDetected,
  RiderFraudSuspected,
  SagaStarted,
  SagaStepCompleted,
  SagaFailed,
  SagaCompleted,
];

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The seed's topics with its partition counts (booking 12, driver 24, payment 6, pricing 12, saga
 * 6) and its retention (booking and pricing 7 days, driver 3: GPS points are many and short-lived,
 * payment 30: a rider's payments stay in the log for a month). Declared, not left to the engine's
 * default (7 days on the embedded log, the cluster's `retention.ms` on Kafka). The seed gives the
 * saga log none, so it keeps the engine's default, as do the fraud alerts (not a seed topic).
 */
export const TOPICS = [
  { name: 'booking-events', partitions: 12, retentionMs: 7 * DAY_MS },
  { name: 'driver-events', partitions: 24, retentionMs: 3 * DAY_MS },
  { name: 'payment-events', partitions: 6, retentionMs: 30 * DAY_MS },
  { name: 'pricing-events', partitions: 12, retentionMs: 7 * DAY_MS },
  { name: 'booking-saga', partitions: 6 },
  { name: 'fraud-alerts', partitions: 3 },
];

/**
 * The consumer group of each service (the seed's notifications-group and fraud-group among them).
 * The fraud service runs two: the seed's fraud-group reads only payment and booking events, and
 * the GPS speed check is location-fraud-group, so driver-events' volume neither slows nor hides
 * (in its lag) the fraud-group.
 */
export const GROUPS = {
  booking: 'booking-service',
  pricing: 'pricing-service',
  driver: 'driver-service',
  payment: 'payment-service',
  notification: 'notifications-group',
  fraud: 'fraud-group',
  locationFraud: 'location-fraud-group',
  surge: 'surge-pricing',
} as const;
