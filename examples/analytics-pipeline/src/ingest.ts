import { createHash } from 'node:crypto';
import { ErrorCodes, HeraldError, uuidv7, type Publish, type ValidationIssue } from '@herald/core';
import { compileValidator } from '@herald/http';
import { Type, type Static } from '@sinclair/typebox';
import { AnalyticsEvent, MetricSample, MetricValue } from './events.js';
import { textIssues } from './text.js';
import { epochMsOf } from './time.js';

/**
 * Most events in one batch: HTTP `POST /v1/events:batch` and gRPC `IngestBatch`. A gRPC
 * `IngestStream` has no such limit: it is appended in chunks as it is read, for as long as it lasts.
 */
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
    value: MetricValue,
    timestamp: Type.String({ format: 'date-time' }),
    labels: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
);
export type IngestMetric = Static<typeof IngestMetricBody>;

/** The batch body; its events are checked one by one (see {@link IngestChecks.checkEvents}). */
export const IngestBatchBody = Type.Object(
  { events: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_BATCH }) },
  { additionalProperties: false },
);

const eventValidator = compileValidator(IngestEventBody, 'event');
const metricValidator = compileValidator(IngestMetricBody, 'metric');

/** What ingest judges event times by. */
export interface IngestRules {
  /**
   * How far ahead of the producer's clock an event time may be, ms: the stream's grace
   * ({@link maxFutureSkewOf}), so that no event taken can make another client's on-time events late.
   */
  readonly maxFutureSkewMs: number;
  /** The producer's clock, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/** The producer's checks of events and metric samples, alike for its HTTP and gRPC faces. */
export interface IngestChecks {
  /** The issues of one event (JSON pointers under `path`), empty when it is valid. */
  eventIssues(value: unknown, path?: string): ValidationIssue[];
  /** The issues of an event its schema already passed (the HTTP route's body): its time and its text. */
  eventRuleIssues(event: IngestEvent): ValidationIssue[];
  /** The issues of one metric sample, empty when it is valid. */
  metricIssues(value: unknown): ValidationIssue[];
  /**
   * Checks every event of a batch and throws `schema-violation` listing each invalid event by its
   * index (`/events/3/timestamp`), so a client can fix them all at once; nothing of a batch with an
   * invalid event is appended.
   */
  checkEvents(events: readonly unknown[]): IngestEvent[];
}

/**
 * How far ahead of the clock an event time may be, given the stream's grace (`STREAM_GRACE_MS`):
 * the grace itself. Stream time is the largest event time a partition has seen; an event `s` ahead
 * moves it `s` ahead, and a minute closes once stream time passes its end plus the grace. With
 * `s` at most the grace, no minute an on-time event (sent at the same time or later, by a client
 * with a right clock) belongs to can close before that event arrives. Further ahead, one event of
 * a client with a fast clock would make its partition's events late for as long as the clock is
 * ahead. The producer refuses such an event (422, INVALID_ARGUMENT) and the consumer, judging by
 * its own clock, dead-letters one that reached the log another way (`invalid-event-time`).
 */
export function maxFutureSkewOf(graceMs: number): number {
  return graceMs;
}

/**
 * Metric samples are not windowed by the stream (they have no stream time to move): their bound
 * only catches a clock that is plainly wrong.
 */
export const SAMPLE_MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** The producer's checks under `rules` (see {@link IngestChecks}). */
export function createIngestChecks(rules: IngestRules): IngestChecks {
  const { maxFutureSkewMs } = rules;
  if (!(Number.isSafeInteger(maxFutureSkewMs) && maxFutureSkewMs >= 0)) {
    throw new HeraldError(ErrorCodes.invalidOptions, `maxFutureSkewMs must be an integer >= 0 (ms), got ${String(maxFutureSkewMs)}`);
  }
  const now = rules.now ?? Date.now;
  const eventRuleIssues = (event: IngestEvent, path = '') => [...timeIssues(event.timestamp, { path, aheadMs: maxFutureSkewMs, now: now() }), ...textIssues(event, path)];
  const eventIssues = (value: unknown, path = ''): ValidationIssue[] => {
    const checked = eventValidator(value);
    if ('error' in checked) return issuesOf(checked.error).map((i) => ({ path: `${path}${i.path}`, message: i.message }));
    return eventRuleIssues(value as IngestEvent, path);
  };
  return {
    eventIssues,
    eventRuleIssues: (event) => eventRuleIssues(event),
    metricIssues(value) {
      const checked = metricValidator(value);
      if ('error' in checked) return issuesOf(checked.error);
      return [...timeIssues((value as IngestMetric).timestamp, { path: '', aheadMs: SAMPLE_MAX_FUTURE_SKEW_MS, now: now() }), ...textIssues(value, '')];
    },
    checkEvents(events) {
      const issues = events.flatMap((event, i) => eventIssues(event, `/events/${i}`));
      if (issues.length > 0) {
        const indices = [...new Set(issues.map((i) => Number(i.path.split('/')[2])))];
        throw new HeraldError(ErrorCodes.schemaViolation, `${indices.length} of ${events.length} events are invalid (indices ${indices.join(', ')}); none was accepted`, {
          details: { issues },
        });
      }
      return events as IngestEvent[];
    },
  };
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

function timeIssues(timestamp: string, rule: { readonly path: string; readonly aheadMs: number; readonly now: number }): ValidationIssue[] {
  const time = epochMsOf(timestamp);
  if ('problem' in time) return [{ path: `${rule.path}/timestamp`, message: time.problem }];
  if (time.ms > rule.now + rule.aheadMs) return [{ path: `${rule.path}/timestamp`, message: `must be at most ${seconds(rule.aheadMs)} ahead of the server's clock (is the client's clock right?)` }];
  return [];
}

const seconds = (ms: number) => (ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);

function issuesOf(error: HeraldError): ValidationIssue[] {
  return (error.details?.['issues'] as ValidationIssue[] | undefined) ?? [{ path: '', message: error.message }];
}
