import { HeraldError } from '@herald/core';
import { AnalyticsErrors } from './errors.js';
import type { AnalyticsEvent, CountsQuery, LateEvent, MetricPoint, MetricSummaryQuery, TimeRange, TopTypesQuery } from './types.js';

/** At most this many windows per query: a 1 ms window over a year would answer with billions. */
export const MAX_WINDOWS = 100_000;

const isTime = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

function invalidRecord(what: string, index: number, field: string): HeraldError {
  return new HeraldError(AnalyticsErrors.invalidRecord, `${what} ${index}: ${field}`, { details: { index, field } });
}

export function checkEvents(events: readonly AnalyticsEvent[]): void {
  events.forEach((e, i) => {
    if (!isText(e.eventId)) throw invalidRecord('event', i, 'eventId must be a non-empty string');
    if (!isText(e.userId)) throw invalidRecord('event', i, 'userId must be a non-empty string');
    if (!isText(e.type)) throw invalidRecord('event', i, 'type must be a non-empty string');
    if (!isTime(e.occurredAt)) throw invalidRecord('event', i, 'occurredAt must be whole epoch milliseconds, not before 1970');
    if (typeof e.properties !== 'object' || e.properties === null || Array.isArray(e.properties)) throw invalidRecord('event', i, 'properties must be an object');
  });
}

export function checkMetrics(points: readonly MetricPoint[]): void {
  points.forEach((p, i) => {
    if (!isText(p.pointId)) throw invalidRecord('metric', i, 'pointId must be a non-empty string');
    if (!isText(p.name)) throw invalidRecord('metric', i, 'name must be a non-empty string');
    if (typeof p.value !== 'number' || !Number.isFinite(p.value)) throw invalidRecord('metric', i, 'value must be a finite number');
    if (!isTime(p.occurredAt)) throw invalidRecord('metric', i, 'occurredAt must be whole epoch milliseconds, not before 1970');
    if (typeof p.labels !== 'object' || p.labels === null || Array.isArray(p.labels)) throw invalidRecord('metric', i, 'labels must be an object');
  });
}

export function checkLate(events: readonly LateEvent[]): void {
  events.forEach((e, i) => {
    if (!isText(e.eventId)) throw invalidRecord('late event', i, 'eventId must be a non-empty string');
    if (!isText(e.type)) throw invalidRecord('late event', i, 'type must be a non-empty string');
    for (const field of ['occurredAt', 'windowStart', 'windowEnd', 'arrivedAt'] as const) {
      if (!isTime(e[field])) throw invalidRecord('late event', i, `${field} must be whole epoch milliseconds`);
    }
    if (e.windowEnd <= e.windowStart) throw invalidRecord('late event', i, 'windowEnd must be after windowStart');
  });
}

function invalidQuery(message: string): HeraldError {
  return new HeraldError(AnalyticsErrors.invalidQuery, message);
}

export function checkRange(range: TimeRange): void {
  if (!isTime(range.from) || !isTime(range.to)) throw invalidQuery('from and to must be whole epoch milliseconds, not before 1970');
  if (range.from > range.to) throw invalidQuery(`from (${range.from}) is after to (${range.to})`);
}

function checkWindowed(query: TimeRange & { readonly windowMs: number }): void {
  checkRange(query);
  if (!Number.isSafeInteger(query.windowMs) || query.windowMs <= 0) throw invalidQuery('windowMs must be a positive whole number of milliseconds');
  if ((query.to - query.from) / query.windowMs > MAX_WINDOWS) throw invalidQuery(`the range holds more than ${MAX_WINDOWS} windows of ${query.windowMs} ms`);
}

export function checkCounts(query: CountsQuery): void {
  checkWindowed(query);
  if (query.type !== undefined && !isText(query.type)) throw invalidQuery('type must be a non-empty string when given');
}

export function checkTopTypes(query: TopTypesQuery): void {
  checkRange(query);
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 1000) throw invalidQuery('limit must be a whole number from 1 to 1000');
}

export function checkMetricSummary(query: MetricSummaryQuery): void {
  checkWindowed(query);
  if (!isText(query.name)) throw invalidQuery('name must be a non-empty string');
}

/**
 * The continuous `q` quantile from the values at the two closest ranks of a window of `count`
 * sorted values, the way PostgreSQL's `percentile_cont` and DuckDB's `quantile_cont` compute it:
 * position `q * (count - 1)`, interpolated between `lower` (its floor's value) and `upper` (the next).
 */
export function interpolate(q: number, count: number, lower: number, upper: number | null): number {
  const position = q * (count - 1);
  const fraction = position - Math.floor(position);
  return upper === null || fraction === 0 ? lower : lower + fraction * (upper - lower);
}
