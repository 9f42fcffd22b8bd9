import { createHash } from 'node:crypto';
import { ErrorCodes, HeraldError, uuidv7, type Publish, type ValidationIssue } from '@herald/core';
import { compileValidator } from '@herald/http';
import { Type, type Static } from '@sinclair/typebox';
import { AnalyticsEvent, MetricSample } from './events.js';

/** Most events in one batch (HTTP `POST /v1/events:batch`, gRPC `IngestBatch` and each stream). */
export const MAX_BATCH = 1000;

/** One event as a client sends it (HTTP body, gRPC message). Unknown fields are refused. */
export const IngestEventBody = Type.Object(
  {
    eventId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    userId: Type.String({ minLength: 1, maxLength: 128 }),
    type: Type.String({ minLength: 1, maxLength: 64 }),
    /** RFC 3339 event time, at or after 1970. */
    timestamp: Type.String({ format: 'date-time' }),
    properties: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type IngestEvent = Static<typeof IngestEventBody>;

/** One metric sample as a client sends it. */
export const IngestMetricBody = Type.Object(
  {
    /** Optional: a sample sent again with its id (a client retrying) is counted once. */
    sampleId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    value: Type.Number(),
    timestamp: Type.String({ format: 'date-time' }),
    labels: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
);
export type IngestMetric = Static<typeof IngestMetricBody>;

/** The batch body; its events are checked one by one (see {@link checkEvents}). */
export const IngestBatchBody = Type.Object(
  { events: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_BATCH }) },
  { additionalProperties: false },
);

const eventValidator = compileValidator(IngestEventBody, 'event');
const metricValidator = compileValidator(IngestMetricBody, 'metric');

/** The issues of one event (JSON pointers under `path`), empty when it is valid. */
export function eventIssues(value: unknown, path = ''): ValidationIssue[] {
  const checked = eventValidator(value);
  if ('error' in checked) return issuesOf(checked.error).map((i) => ({ path: `${path}${i.path}`, message: i.message }));
  return [...timeIssues((value as IngestEvent).timestamp, path), ...nulIssues(value, path)];
}

/** The issues of one metric sample, empty when it is valid. */
export function metricIssues(value: unknown): ValidationIssue[] {
  const checked = metricValidator(value);
  if ('error' in checked) return issuesOf(checked.error);
  return [...timeIssues((value as IngestMetric).timestamp, ''), ...nulIssues(value, '')];
}

/**
 * Where `value` holds U+0000 (NUL) in a string or a key, as issues. The analytics store refuses it
 * (PostgreSQL's text cannot hold it), and it would only find out when the event's window closes:
 * the record closing that window would then fail and be dead-lettered in the event's place. So
 * it is refused here, before anything is accepted.
 */
export function nulIssues(value: unknown, path: string): ValidationIssue[] {
  if (typeof value === 'string') return value.includes('\u0000') ? [{ path: path || '/', message: 'must not contain U+0000 (NUL)' }] : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => {
    const at = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    return key.includes('\u0000') ? [{ path: at, message: 'the key must not contain U+0000 (NUL)' }] : nulIssues(inner, at);
  });
}

/**
 * Checks every event of a batch and throws `schema-violation` listing each invalid event by its
 * index (`/events/3/timestamp`), so a client can fix them all at once; nothing of a batch with an
 * invalid event is appended.
 */
export function checkEvents(events: readonly unknown[]): IngestEvent[] {
  const issues = events.flatMap((event, i) => eventIssues(event, `/events/${i}`));
  if (issues.length > 0) {
    const indices = [...new Set(issues.map((i) => Number(i.path.split('/')[2])))];
    throw new HeraldError(ErrorCodes.schemaViolation, `${indices.length} of ${events.length} events are invalid (indices ${indices.join(', ')}); none was accepted`, {
      details: { issues },
    });
  }
  return events as IngestEvent[];
}

/** Throws `schema-violation` with the issues of one event or sample, if any. */
export function assertValid(issues: readonly ValidationIssue[], what: string): void {
  if (issues.length === 0) return;
  const summary = issues.slice(0, 3).map((i) => `${i.path || '/'}: ${i.message}`).join('; ');
  throw new HeraldError(ErrorCodes.schemaViolation, `the ${what} is invalid: ${summary}`, { details: { issues } });
}

/**
 * The envelope id of an event id: a name-based UUID (version 5 layout over SHA-1), so every
 * append of one `eventId` is the same envelope, and the consumers' inboxes apply it once. Metric
 * samples' ids (`sampleId`) are names of their own `kind`: a sample and an event may share an id.
 */
export function envelopeIdOf(eventId: string, kind: 'event' | 'metric' = 'event'): string {
  const bytes = createHash('sha1').update(`herald-analytics-${kind}\u0000`).update(eventId).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Appends valid events straight to the log (no outbox) and resolves with their ids once durable. */
export async function appendEvents(publish: Publish, events: readonly IngestEvent[]): Promise<string[]> {
  // concurrent appends share one durable write (the log's group commit, the Kafka producer's coalescing)
  return Promise.all(
    events.map(async (event) => {
      const eventId = event.eventId ?? uuidv7();
      await publish(
        AnalyticsEvent,
        { eventId, userId: event.userId, type: event.type, properties: event.properties },
        { id: envelopeIdOf(eventId), occurredAt: new Date(event.timestamp) },
      );
      return eventId;
    }),
  );
}

/**
 * Appends one valid metric sample; resolves once durable. A sample with a `sampleId` gets the
 * envelope id derived from it, so the consumer's inbox and the analytics store keep one copy of a
 * sample sent again.
 */
export async function appendMetric(publish: Publish, sample: IngestMetric): Promise<void> {
  await publish(
    MetricSample,
    { name: sample.name, value: sample.value, labels: sample.labels },
    { occurredAt: new Date(sample.timestamp), ...(sample.sampleId !== undefined ? { id: envelopeIdOf(sample.sampleId, 'metric') } : {}) },
  );
}

/**
 * How far past the wall clock an event time may be. Stream time is the largest event time a
 * partition has seen: one event dated years ahead (a typo, a device's wrong clock) would make every
 * later event of its partition late, closing windows that never got their events.
 */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/**
 * The issues of an event its schema already passed: an event time before 1970 or more than
 * {@link MAX_FUTURE_SKEW_MS} ahead (the schema checks the RFC 3339 form), and NUL characters.
 */
export function eventRuleIssues(event: { readonly timestamp: string }, now = Date.now()): ValidationIssue[] {
  return [...timeIssues(event.timestamp, '', now), ...nulIssues(event, '')];
}

function timeIssues(timestamp: string, path: string, now = Date.now()): ValidationIssue[] {
  const ms = Date.parse(timestamp);
  if (!(ms >= 0)) return [{ path: `${path}/timestamp`, message: 'must be at or after 1970-01-01T00:00:00Z' }];
  if (ms > now + MAX_FUTURE_SKEW_MS) return [{ path: `${path}/timestamp`, message: `must be at most ${MAX_FUTURE_SKEW_MS / 60_000} minutes ahead of the server's clock` }];
  return [];
}

function issuesOf(error: HeraldError): ValidationIssue[] {
  return (error.details?.['issues'] as ValidationIssue[] | undefined) ?? [{ path: '', message: error.message }];
}
