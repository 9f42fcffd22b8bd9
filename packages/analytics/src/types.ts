import type { AnalyticsSweepResult } from './retention.js';

/** One analytics event as ingested (seed 001's event): who did what, when (event time, epoch ms). */
export interface AnalyticsEvent {
  /** Unique per event: a second append of the same id is not stored again. */
  readonly eventId: string;
  readonly userId: string;
  readonly type: string;
  /** Event time, epoch milliseconds. */
  readonly occurredAt: number;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** One sample of a named metric (seed 001's `POST /v1/metrics`). */
export interface MetricPoint {
  /** Unique per sample (the envelope id it came in): a second append is not stored again. */
  readonly pointId: string;
  readonly name: string;
  readonly value: number;
  /** Sample time, epoch milliseconds. */
  readonly occurredAt: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** An event that arrived after its window closed (a stream's late side output). */
export interface LateEvent {
  readonly eventId: string;
  readonly type: string;
  readonly occurredAt: number;
  /**
   * The window it belonged to, epoch milliseconds, as the stream gave it: `[windowStart,
   * windowEnd)` for a time window; a session's bounds are inclusive, and a late record's own
   * session is the point `[t, t]`, so `windowEnd` may equal `windowStart` (never be before it).
   */
  readonly windowStart: number;
  readonly windowEnd: number;
  /** When it was seen, epoch milliseconds. */
  readonly arrivedAt: number;
}

/** A time range of event time, epoch milliseconds: `from` inclusive, `to` exclusive. */
export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

/** Windows are aligned to the epoch: an event at `t` is in the window starting at `t - t mod windowMs`. */
export interface CountsQuery extends TimeRange {
  readonly windowMs: number;
  /** Only events of this type; all types when absent. */
  readonly type?: string;
}

export interface CountWindow {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly count: number;
  readonly uniqueUsers: number;
}

export interface UserSummary {
  readonly events: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly byType: Readonly<Record<string, number>>;
}

export interface TopTypesQuery extends TimeRange {
  /** 1 to 1000. */
  readonly limit: number;
}

export interface TypeCount {
  readonly type: string;
  readonly count: number;
}

export interface MetricSummaryQuery extends TimeRange {
  readonly name: string;
  readonly windowMs: number;
}

/** `p95` is the continuous 95th percentile (linear interpolation between the closest ranks). */
export interface MetricWindow {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly avg: number;
  readonly p95: number;
}

export interface LateWindow {
  readonly type: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly count: number;
}

/**
 * Where raw analytics events, metric samples and late events are kept and queried. Appends are
 * idempotent by id (at-least-once delivery, each event counted once); queries are exact over what
 * is kept. Windows with nothing in them are left out; results are ordered by window start
 * (then type), top types by count descending then type.
 *
 * Retention (`AnalyticsRetentionOptions`) deletes records once their event time is older than
 * their kind's retention, at the first sweep after. Queries answer from what is kept: a range
 * reaching back past a retention counts only what is left of it, a window the cutoff cuts through
 * counts only its part after the cutoff, and a user's summary counts their kept events. A caller
 * that shows windows as whole starts its ranges at the first window boundary at or after
 * `now - retention` (nothing from there on is deleted). An id is remembered only while its record
 * is kept: one appended again after its record was deleted is stored again (and goes at the next
 * sweep, being as old).
 *
 * After `close()`, every call fails with core's `closed` (not retriable).
 */
export interface AnalyticsStore {
  /** Which implementation: `sqlite`, `duckdb` or `postgres`. */
  readonly kind: string;
  /** Stores the events not stored before; returns how many were new. */
  appendEvents(events: readonly AnalyticsEvent[]): Promise<number>;
  appendMetrics(points: readonly MetricPoint[]): Promise<number>;
  appendLate(events: readonly LateEvent[]): Promise<number>;
  counts(query: CountsQuery): Promise<CountWindow[]>;
  /** Undefined when the user has no event. */
  user(userId: string): Promise<UserSummary | undefined>;
  topTypes(query: TopTypesQuery): Promise<TypeCount[]>;
  metricSummary(query: MetricSummaryQuery): Promise<MetricWindow[]>;
  /** Late events per type and window, optionally only those whose window starts in `range`. */
  late(range?: TimeRange): Promise<LateWindow[]>;
  /**
   * Deletes now what is past its retention, a chunk at a time (the store also sweeps every
   * `sweepIntervalMs` unless `maintenance` is off); returns how many records of each kind went.
   * Joins a sweep already running. Without a retention it deletes nothing.
   */
  sweepRetention(): Promise<AnalyticsSweepResult>;
  /** Stops the sweep (after its current chunk) and closes the database; idempotent. */
  close(): Promise<void>;
}
