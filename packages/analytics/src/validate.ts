import { HeraldError, unstorableTextReason } from '@herald/core';
import { AnalyticsErrors } from './errors.js';
import type { AnalyticsEvent, CountsQuery, LateEvent, MetricPoint, MetricSummaryQuery, TimeRange, TopTypesQuery } from './types.js';

/** At most this many windows per query: a 1 ms window over a year would answer with billions. */
export const MAX_WINDOWS = 100_000;

/**
 * A metric sample's value is at most this far from zero (either sign). Summaries add samples up:
 * PostgreSQL's `avg` keeps their sum and the sum of their squared deviations and fails once either
 * overflows a double, where SQLite and DuckDB answer Infinity or nothing. Within ±1e100 neither
 * overflows for any number of samples a table can hold (the squares stay under 1e201 each), so
 * every store answers every summary, and the same one.
 */
export const MAX_METRIC_VALUE = 1e100;

const isTime = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

function invalidRecord(what: string, index: number, field: string): HeraldError {
  return new HeraldError(AnalyticsErrors.invalidRecord, `${what} ${index}: ${field}`, { details: { index, field } });
}

/**
 * Why `value` cannot be the text field `field`; undefined when it can. Text every store keeps alike
 * (`unstorableTextReason`: no U+0000, which PostgreSQL cannot hold, no lone surrogate, which jsonb
 * refuses and DuckDB and the pg driver make U+FFFD), so they all keep the same records.
 */
function notText(value: unknown, field: string): string | undefined {
  if (!isText(value)) return `${field} must be a non-empty string`;
  const problem = unstorableTextReason(value);
  return problem === undefined ? undefined : `${field} ${problem}`;
}

/**
 * Why `value` cannot be the JSON object `field`; undefined when it can. Checked before anything is
 * written, so that a BigInt or a cycle fails the append as an invalid record, not half-way through
 * a store's write (where it would look like an unavailable database). The keys and strings checked
 * are those JSON.stringify writes (after `toJSON`), the text the store is given.
 */
function notJsonObject(value: unknown, field: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${field} must be an object`;
  let problem: string | undefined;
  try {
    JSON.stringify(value, (key, v: unknown) => {
      problem ??= unstorableTextReason(key) ?? (typeof v === 'string' ? unstorableTextReason(v) : undefined);
      return v;
    });
  } catch (error) {
    return `${field} cannot be written as JSON: ${(error as Error).message}`;
  }
  return problem === undefined ? undefined : `${field}: a key or a string ${problem}`;
}

export function checkEvents(events: readonly AnalyticsEvent[]): void {
  events.forEach((e, i) => {
    const problem =
      notText(e.eventId, 'eventId') ??
      notText(e.userId, 'userId') ??
      notText(e.type, 'type') ??
      (isTime(e.occurredAt) ? undefined : 'occurredAt must be whole epoch milliseconds, not before 1970') ??
      notJsonObject(e.properties, 'properties');
    if (problem !== undefined) throw invalidRecord('event', i, problem);
  });
}

export function checkMetrics(points: readonly MetricPoint[]): void {
  points.forEach((p, i) => {
    const problem =
      notText(p.pointId, 'pointId') ??
      notText(p.name, 'name') ??
      metricValueProblem(p.value) ??
      (isTime(p.occurredAt) ? undefined : 'occurredAt must be whole epoch milliseconds, not before 1970') ??
      notJsonObject(p.labels, 'labels');
    if (problem !== undefined) throw invalidRecord('metric', i, problem);
  });
}

function metricValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'value must be a finite number';
  if (Math.abs(value) > MAX_METRIC_VALUE) return `value must be within ±${MAX_METRIC_VALUE} (MAX_METRIC_VALUE), got ${value}`;
  return undefined;
}

export function checkLate(events: readonly LateEvent[]): void {
  events.forEach((e, i) => {
    const problem = notText(e.eventId, 'eventId') ?? notText(e.type, 'type');
    if (problem !== undefined) throw invalidRecord('late event', i, problem);
    for (const field of ['occurredAt', 'windowStart', 'windowEnd', 'arrivedAt'] as const) {
      if (!isTime(e[field])) throw invalidRecord('late event', i, `${field} must be whole epoch milliseconds`);
    }
    // equal for a session's late record: its own session [t, t], whose bounds are inclusive
    if (e.windowEnd < e.windowStart) throw invalidRecord('late event', i, 'windowEnd must not be before windowStart');
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

/** Why `value` cannot be a query's text `field` (a user id, a type, a name); undefined when it can. */
function badQueryText(value: unknown, field: string): string | undefined {
  if (!isText(value)) return `${field} must be a non-empty string`;
  // no record holds them (appends refuse them); PostgreSQL cannot even compare with U+0000, and a
  // lone surrogate would be looked up as U+FFFD by DuckDB and the pg driver, finding another user
  const problem = unstorableTextReason(value);
  return problem === undefined ? undefined : `${field} ${problem}`;
}

export function checkUser(userId: string): void {
  const why = badQueryText(userId, 'userId');
  if (why) throw invalidQuery(why);
}

export function checkCounts(query: CountsQuery): void {
  checkWindowed(query);
  const why = query.type === undefined ? undefined : badQueryText(query.type, 'type');
  if (why) throw invalidQuery(`${why} when given`);
}

export function checkTopTypes(query: TopTypesQuery): void {
  checkRange(query);
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 1000) throw invalidQuery('limit must be a whole number from 1 to 1000');
}

export function checkMetricSummary(query: MetricSummaryQuery): void {
  checkWindowed(query);
  const why = badQueryText(query.name, 'name');
  if (why) throw invalidQuery(why);
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
