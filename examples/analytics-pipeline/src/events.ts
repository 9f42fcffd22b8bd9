import { MAX_METRIC_VALUE } from '@herald/analytics';
import { defineEvent } from '@herald/core';
import { Type, type TSchema } from '@sinclair/typebox';

/**
 * One analytics event as the producer appends it (seed 001's event): who did what. Its event time
 * is the envelope's `occurredAt` (the request's `timestamp`) and its envelope id is derived from
 * `eventId` (see `ingest.ts`), so a repeated `eventId` is one event to every consumer's inbox.
 * Keyed by user id: one user's events stay in order on one partition.
 */
export const AnalyticsEvent = defineEvent({
  type: 'AnalyticsEvent',
  topic: 'analytics-events',
  key: (d) => d.userId,
  schema: Type.Object({
    eventId: Type.String({ minLength: 1, maxLength: 128 }),
    userId: Type.String({ minLength: 1, maxLength: 128 }),
    type: Type.String({ minLength: 1, maxLength: 64 }),
    properties: Type.Record(Type.String(), Type.Unknown()),
  }),
});

/**
 * A metric sample's value: a number within ±1e100, what the analytics store keeps
 * (`MAX_METRIC_VALUE`: summaries of larger ones would overflow on PostgreSQL).
 */
export const MetricValue = Type.Number({ minimum: -MAX_METRIC_VALUE, maximum: MAX_METRIC_VALUE });

/**
 * One sample of a named metric (`POST /v1/metrics`); its time is the envelope's `occurredAt`.
 * Keyed by the metric's name: a sample has no user, and one metric's samples stay in order.
 */
export const MetricSample = defineEvent({
  type: 'MetricSample',
  topic: 'metrics-data',
  key: (d) => d.name,
  schema: Type.Object({
    name: Type.String({ minLength: 1, maxLength: 128 }),
    value: MetricValue,
    labels: Type.Record(Type.String(), Type.String()),
  }),
});

/** Every event type of the example, registered in each process. */
export const EVENTS = [AnalyticsEvent, MetricSample];

/** Seed 001's topics: 3 partitions each (a Kafka cluster that auto-creates topics may give more). */
export const TOPICS = [
  { name: AnalyticsEvent.topic, partitions: 3 },
  { name: MetricSample.topic, partitions: 3 },
];

/** The consumer service's groups: the stream topology (its name) and the metric samples. */
export const GROUPS = { stream: 'analytics-stream', metrics: 'metrics-consumer' } as const;

/**
 * The event types the consumer accepts, with the schema of their `properties` (more properties
 * are allowed). An event of another type, or whose properties do not match, is dead-lettered.
 */
export const EVENT_TYPES: Readonly<Record<string, TSchema>> = {
  page_view: Type.Object({ page: Type.String({ minLength: 1 }) }),
  click: Type.Object({ element: Type.String({ minLength: 1 }) }),
  search: Type.Object({ query: Type.String() }),
  purchase: Type.Object({ amount: Type.Number({ exclusiveMinimum: 0 }), currency: Type.String({ pattern: '^[A-Z]{3}$' }) }),
  signup: Type.Object({}),
};
