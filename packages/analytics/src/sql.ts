import type { Kind } from './retention.js';
import type { CountWindow, LateWindow, MetricWindow, TypeCount, UserSummary } from './types.js';

// The statements every SQL analytics store runs, written once: the dialects differ only in their
// parameter syntax, how a window's start is computed and the 95th percentile (see each store).

/** Columns of `analytics_events`, in insert order. */
export const EVENT_COLUMNS = ['event_id', 'user_id', 'type', 'occurred_at', 'properties'] as const;
export const METRIC_COLUMNS = ['point_id', 'name', 'value', 'occurred_at', 'labels'] as const;
export const LATE_COLUMNS = ['event_id', 'type', 'occurred_at', 'window_start', 'window_end', 'arrived_at'] as const;

/** Row values of an event, a metric sample and a late event, in their columns' order. */
export const eventRow = (e: { eventId: string; userId: string; type: string; occurredAt: number; properties: unknown }) =>
  [e.eventId, e.userId, e.type, e.occurredAt, JSON.stringify(e.properties)] as const;
export const metricRow = (p: { pointId: string; name: string; value: number; occurredAt: number; labels: unknown }) =>
  [p.pointId, p.name, p.value, p.occurredAt, JSON.stringify(p.labels)] as const;
export const lateRow = (e: { eventId: string; type: string; occurredAt: number; windowStart: number; windowEnd: number; arrivedAt: number }) =>
  [e.eventId, e.type, e.occurredAt, e.windowStart, e.windowEnd, e.arrivedAt] as const;

/** Where each kind of record is kept: its table, its id column and the time its retention runs on. */
export const RETAINED = {
  events: { table: 'analytics_events', id: 'event_id', time: 'occurred_at' },
  metrics: { table: 'analytics_metrics', id: 'point_id', time: 'occurred_at' },
  late: { table: 'analytics_late', id: 'event_id', time: 'window_start' },
} as const satisfies Record<Kind, { table: string; id: string; time: string }>;

/** `WHERE` of a late query: all, or windows starting in the range (two parameters). */
export const lateWhere = (p: (n: number) => string, ranged: boolean): string => (ranged ? `WHERE window_start >= ${p(1)} AND window_start < ${p(2)}` : '');

/** Plain numbers from a driver's row value (bigint from DuckDB, string from pg's bigint). */
export const num = (value: unknown): number => (typeof value === 'number' ? value : Number(value));

/** A driver's row of the statements above, by column alias. */
export type Row = Readonly<Record<string, unknown>>;

/** `ws, n, users` → a count window of `windowMs`. */
export const toCountWindow = (row: Row, windowMs: number): CountWindow => ({
  windowStart: num(row['ws']),
  windowEnd: num(row['ws']) + windowMs,
  count: num(row['n']),
  uniqueUsers: num(row['users']),
});

/** One `type, n, first, last` row per type of a user's events → the summary; undefined for none. */
export function toUserSummary(rows: readonly Row[]): UserSummary | undefined {
  if (rows.length === 0) return undefined;
  // own properties made by fromEntries, so a type named `__proto__` is a count like any other
  const byType: Record<string, number> = Object.fromEntries(rows.map((row) => [String(row['type']), num(row['n'])]));
  return {
    events: rows.reduce((sum, row) => sum + num(row['n']), 0),
    firstSeen: Math.min(...rows.map((row) => num(row['first']))),
    lastSeen: Math.max(...rows.map((row) => num(row['last']))),
    byType,
  };
}

/** `type, n` → a type's count. */
export const toTypeCount = (row: Row): TypeCount => ({ type: String(row['type']), count: num(row['n']) });

/** `ws, n, lo, hi, mean, p95` → a metric window of `windowMs`. */
export const toMetricWindow = (row: Row, windowMs: number): MetricWindow => ({
  windowStart: num(row['ws']),
  windowEnd: num(row['ws']) + windowMs,
  count: num(row['n']),
  min: num(row['lo']),
  max: num(row['hi']),
  avg: num(row['mean']),
  p95: num(row['p95']),
});

/** `type, ws, we, n` → late events of a type in a window. */
export const toLateWindow = (row: Row): LateWindow => ({ type: String(row['type']), windowStart: num(row['ws']), windowEnd: num(row['we']), count: num(row['n']) });
