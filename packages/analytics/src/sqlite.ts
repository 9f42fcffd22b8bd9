import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { HeraldError } from '@herald/core';
import { AnalyticsErrors, closedError } from './errors.js';
import { checkRetentionOptions, startSweeper, type AnalyticsRetentionOptions, type Kind } from './retention.js';
import { EVENT_COLUMNS, LATE_COLUMNS, METRIC_COLUMNS, RETAINED, eventRow, lateRow, lateWhere, metricRow, toCountWindow, toLateWindow, toTypeCount, toUserSummary } from './sql.js';
import type { AnalyticsStore, CountWindow, LateWindow, MetricWindow, TypeCount, UserSummary } from './types.js';
import { checkCounts, checkEvents, checkLate, checkMetricSummary, checkMetrics, checkRange, checkTopTypes, checkUser, interpolate } from './validate.js';

export interface SqliteAnalyticsOptions extends AnalyticsRetentionOptions {
  /** The database file (created with its folder); `:memory:` for a throwaway store. */
  readonly path: string;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS analytics_events (event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, type TEXT NOT NULL, occurred_at INTEGER NOT NULL, properties TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS analytics_events_time ON analytics_events (occurred_at, type, user_id)`,
  `CREATE INDEX IF NOT EXISTS analytics_events_user ON analytics_events (user_id, type, occurred_at)`,
  `CREATE TABLE IF NOT EXISTS analytics_metrics (point_id TEXT PRIMARY KEY, name TEXT NOT NULL, value REAL NOT NULL, occurred_at INTEGER NOT NULL, labels TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS analytics_metrics_name_time ON analytics_metrics (name, occurred_at, value)`,
  `CREATE TABLE IF NOT EXISTS analytics_late (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, occurred_at INTEGER NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, arrived_at INTEGER NOT NULL) WITHOUT ROWID`,
  // retention finds the oldest rows of each kind through these (events through analytics_events_time)
  `CREATE INDEX IF NOT EXISTS analytics_metrics_time ON analytics_metrics (occurred_at)`,
  `CREATE INDEX IF NOT EXISTS analytics_late_window ON analytics_late (window_start)`,
];

const insertSql = (table: string, columns: readonly string[]) => `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;

/**
 * The analytics store on one SQLite file: row storage with covering indexes, so a query reads
 * only the index range of its time span (or user). Appends commit with `synchronous=FULL`: once
 * an append returned, a power cut does not take it back. Retention deletes a bounded chunk per
 * transaction (see `startSweeper`), so a sweep never holds the write lock for long; deleted pages
 * are reused by later appends (the file stops growing rather than shrinks).
 */
export function sqliteAnalytics(options: SqliteAnalyticsOptions): AnalyticsStore {
  checkRetentionOptions('sqliteAnalytics', options);
  let db: Database.Database;
  try {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    db = new Database(options.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    for (const statement of SCHEMA) db.exec(statement);
  } catch (cause) {
    throw new HeraldError(AnalyticsErrors.unavailable, `analytics: cannot open SQLite file ${options.path}`, { cause });
  }
  const s = {
    event: db.prepare(insertSql('analytics_events', EVENT_COLUMNS)),
    metric: db.prepare(insertSql('analytics_metrics', METRIC_COLUMNS)),
    late: db.prepare(insertSql('analytics_late', LATE_COLUMNS)),
    counts: db.prepare<[number, number, number], { ws: number; n: number; users: number }>(
      `SELECT occurred_at - occurred_at % ? AS ws, count(*) AS n, count(DISTINCT user_id) AS users
       FROM analytics_events WHERE occurred_at >= ? AND occurred_at < ? GROUP BY ws ORDER BY ws`,
    ),
    countsOfType: db.prepare<[number, number, number, string], { ws: number; n: number; users: number }>(
      `SELECT occurred_at - occurred_at % ? AS ws, count(*) AS n, count(DISTINCT user_id) AS users
       FROM analytics_events WHERE occurred_at >= ? AND occurred_at < ? AND type = ? GROUP BY ws ORDER BY ws`,
    ),
    user: db.prepare<[string], { type: string; n: number; first: number; last: number }>(
      'SELECT type, count(*) AS n, min(occurred_at) AS first, max(occurred_at) AS last FROM analytics_events WHERE user_id = ? GROUP BY type',
    ),
    top: db.prepare<[number, number, number], { type: string; n: number }>(
      'SELECT type, count(*) AS n FROM analytics_events WHERE occurred_at >= ? AND occurred_at < ? GROUP BY type ORDER BY n DESC, type LIMIT ?',
    ),
    // ranks per window; the two ranks around the 95th percentile's position are picked per window
    summary: db.prepare<[{ w: number; name: string; from: number; to: number }], { ws: number; n: number; lo: number; hi: number; sum: number; low: number | null; high: number | null }>(
      `WITH ranked AS (
         SELECT occurred_at - occurred_at % @w AS ws, value,
                row_number() OVER (PARTITION BY occurred_at - occurred_at % @w ORDER BY value) - 1 AS r,
                count(*) OVER (PARTITION BY occurred_at - occurred_at % @w) AS n
         FROM analytics_metrics WHERE name = @name AND occurred_at >= @from AND occurred_at < @to)
       SELECT ws, n, min(value) AS lo, max(value) AS hi, sum(value) AS sum,
              max(CASE WHEN r = CAST(0.95 * (n - 1) AS INTEGER) THEN value END) AS low,
              max(CASE WHEN r = CAST(0.95 * (n - 1) AS INTEGER) + 1 THEN value END) AS high
       FROM ranked GROUP BY ws, n ORDER BY ws`,
    ),
    lateAll: db.prepare<[], { type: string; ws: number; we: number; n: number }>(
      `SELECT type, window_start AS ws, window_end AS we, count(*) AS n FROM analytics_late ${lateWhere(() => '?', false)} GROUP BY type, window_start, window_end ORDER BY window_start, type`,
    ),
    lateRange: db.prepare<[number, number], { type: string; ws: number; we: number; n: number }>(
      `SELECT type, window_start AS ws, window_end AS we, count(*) AS n FROM analytics_late ${lateWhere(() => '?', true)} GROUP BY type, window_start, window_end ORDER BY window_start, type`,
    ),
    // one statement, one transaction per chunk: the oldest rows through the time index, at most `limit`
    sweep: Object.fromEntries(
      Object.entries(RETAINED).map(([kind, { table, id, time }]) => [kind, db.prepare<[number, number]>(`DELETE FROM ${table} WHERE ${id} IN (SELECT ${id} FROM ${table} WHERE ${time} < ? LIMIT ?)`)]),
    ) as Record<Kind, Database.Statement<[number, number]>>,
  };
  const appendAll = <T>(stmt: Database.Statement, rows: readonly T[], row: (r: T) => readonly unknown[]) =>
    db.transaction(() => {
      let added = 0;
      for (const r of rows) added += stmt.run(...row(r)).changes;
      return added;
    })();
  let closed = false;
  let closing: Promise<void> | undefined;
  const sweeper = startSweeper('sqliteAnalytics', options, (kind, cutoff, limit) => guarded('sweep', () => s.sweep[kind].run(cutoff, limit).changes));
  const guarded = <T>(what: string, work: () => T): Promise<T> => {
    // better-sqlite3 would say "The database connection is not open": an unavailable database, retried for nothing
    if (closed) return Promise.reject(closedError('analytics (sqlite)'));
    try {
      return Promise.resolve(work());
    } catch (cause) {
      if (cause instanceof HeraldError) return Promise.reject(cause);
      return Promise.reject(new HeraldError(AnalyticsErrors.unavailable, `analytics (sqlite): ${what} failed`, { cause }));
    }
  };

  return {
    kind: 'sqlite',
    appendEvents: (events) => guarded('append', () => (checkEvents(events), appendAll(s.event, events, eventRow))),
    appendMetrics: (points) => guarded('append', () => (checkMetrics(points), appendAll(s.metric, points, metricRow))),
    appendLate: (events) => guarded('append', () => (checkLate(events), appendAll(s.late, events, lateRow))),
    counts: (query) =>
      guarded('counts', (): CountWindow[] => {
        checkCounts(query);
        const rows = query.type === undefined ? s.counts.all(query.windowMs, query.from, query.to) : s.countsOfType.all(query.windowMs, query.from, query.to, query.type);
        return rows.map((row) => toCountWindow(row, query.windowMs));
      }),
    user: (userId) =>
      guarded('user', (): UserSummary | undefined => {
        checkUser(userId);
        return toUserSummary(s.user.all(userId));
      }),
    topTypes: (query) =>
      guarded('topTypes', (): TypeCount[] => {
        checkTopTypes(query);
        return s.top.all(query.from, query.to, query.limit).map(toTypeCount);
      }),
    metricSummary: (query) =>
      guarded('metricSummary', (): MetricWindow[] => {
        checkMetricSummary(query);
        return s.summary.all({ w: query.windowMs, name: query.name, from: query.from, to: query.to }).map((row) => ({
          windowStart: row.ws,
          windowEnd: row.ws + query.windowMs,
          count: row.n,
          min: row.lo,
          max: row.hi,
          avg: row.sum / row.n,
          p95: interpolate(0.95, row.n, row.low!, row.high),
        }));
      }),
    late: (range) =>
      guarded('late', (): LateWindow[] => {
        if (range) checkRange(range);
        const rows = range ? s.lateRange.all(range.from, range.to) : s.lateAll.all();
        return rows.map(toLateWindow);
      }),
    sweepRetention: () => (closed ? Promise.reject(closedError('analytics (sqlite)')) : sweeper.sweep()),
    close() {
      closed = true;
      return (closing ??= sweeper.close().then(() => void db.close()));
    },
  };
}
