import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import { HeraldError } from '@herald/core';
import { AnalyticsErrors, closedError } from './errors.js';
import { checkRetentionOptions, startSweeper, type AnalyticsRetentionOptions } from './retention.js';
import { EVENT_COLUMNS, LATE_COLUMNS, METRIC_COLUMNS, RETAINED, eventRow, lateRow, lateWhere, metricRow, toCountWindow, toLateWindow, toMetricWindow, toTypeCount, toUserSummary } from './sql.js';
import type { AnalyticsEvent, AnalyticsStore, LateEvent, MetricPoint } from './types.js';
import { checkCounts, checkEvents, checkLate, checkMetricSummary, checkMetrics, checkRange, checkTopTypes, checkUser } from './validate.js';

export interface DuckdbAnalyticsOptions extends AnalyticsRetentionOptions {
  /** The database file (created with its folder); `:memory:` for a throwaway store. */
  readonly path: string;
}

const TABLES = [
  `CREATE TABLE IF NOT EXISTS analytics_events (event_id VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, type VARCHAR NOT NULL, occurred_at BIGINT NOT NULL, properties VARCHAR NOT NULL)`,
  // one user's summary is a point lookup: an ART index on the user, not a scan of every event
  `CREATE INDEX IF NOT EXISTS analytics_events_user ON analytics_events (user_id)`,
  `CREATE TABLE IF NOT EXISTS analytics_metrics (point_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, value DOUBLE NOT NULL, occurred_at BIGINT NOT NULL, labels VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS analytics_late (event_id VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, occurred_at BIGINT NOT NULL, window_start BIGINT NOT NULL, window_end BIGINT NOT NULL, arrived_at BIGINT NOT NULL)`,
  // appends go through these (one connection, one append at a time): the appender fills them fast,
  // one INSERT ... ON CONFLICT moves the new rows over atomically
  `CREATE TEMP TABLE staged_events AS SELECT * FROM analytics_events LIMIT 0`,
  `CREATE TEMP TABLE staged_metrics AS SELECT * FROM analytics_metrics LIMIT 0`,
  `CREATE TEMP TABLE staged_late AS SELECT * FROM analytics_late LIMIT 0`,
];

/** How one record type is appended: its tables, columns and row writer. */
interface Staging<T> {
  readonly table: string;
  readonly staged: string;
  readonly columns: readonly string[];
  readonly id: (record: T) => string;
  readonly write: (appender: DuckDBAppender, record: T) => void;
}

const EVENTS: Staging<AnalyticsEvent> = {
  table: 'analytics_events',
  staged: 'staged_events',
  columns: EVENT_COLUMNS,
  id: (e) => e.eventId,
  write(a, e) {
    const [id, user, type, at, properties] = eventRow(e);
    a.appendVarchar(id);
    a.appendVarchar(user);
    a.appendVarchar(type);
    a.appendBigInt(BigInt(at));
    a.appendVarchar(properties);
  },
};
const METRICS: Staging<MetricPoint> = {
  table: 'analytics_metrics',
  staged: 'staged_metrics',
  columns: METRIC_COLUMNS,
  id: (p) => p.pointId,
  write(a, p) {
    const [id, name, value, at, labels] = metricRow(p);
    a.appendVarchar(id);
    a.appendVarchar(name);
    a.appendDouble(value);
    a.appendBigInt(BigInt(at));
    a.appendVarchar(labels);
  },
};
const LATE: Staging<LateEvent> = {
  table: 'analytics_late',
  staged: 'staged_late',
  columns: LATE_COLUMNS,
  id: (e) => e.eventId,
  write(a, e) {
    const [id, type, at, start, end, arrived] = lateRow(e);
    a.appendVarchar(id);
    a.appendVarchar(type);
    for (const value of [at, start, end, arrived]) a.appendBigInt(BigInt(value));
  },
};

/**
 * The analytics store on one DuckDB file: columnar storage and vectorised scans, built for the
 * aggregations the analytics queries are (counts, distinct users, quantiles over a time span).
 * Appends use DuckDB's appender into a staging table, then one `INSERT ... ON CONFLICT DO NOTHING`
 * moves the new rows over, so an append is all or nothing and a repeated id is stored once.
 * Calls run one at a time on one connection; a retention sweep is one call per chunk, so appends
 * and queries run between its chunks.
 */
export async function duckdbAnalytics(options: DuckdbAnalyticsOptions): Promise<AnalyticsStore> {
  checkRetentionOptions('duckdbAnalytics', options);
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  try {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    instance = await DuckDBInstance.create(options.path);
    connection = await instance.connect();
    for (const statement of TABLES) await connection.run(statement);
  } catch (cause) {
    throw new HeraldError(AnalyticsErrors.unavailable, `analytics: cannot open DuckDB file ${options.path}`, { cause });
  }
  const db = connection;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  let closing: Promise<void> | undefined;
  /**
   * Runs `work` after every call before it settled (one connection, one staging table per kind).
   * Refused once `close()` was called: on the closed connection DuckDB would fail it as
   * disconnected, which reads as an unavailable database and is retried for nothing.
   */
  function serial<T>(what: string, work: () => Promise<T>): Promise<T> {
    return closed ? Promise.reject(closedError('analytics (duckdb)')) : enqueue(what, work);
  }
  function enqueue<T>(what: string, work: () => Promise<T>): Promise<T> {
    const run = queue.then(work).catch((cause: unknown) => {
      if (cause instanceof HeraldError) throw cause;
      throw new HeraldError(AnalyticsErrors.unavailable, `analytics (duckdb): ${what} failed`, { cause });
    });
    queue = run.catch(() => {});
    return run;
  }
  const sweeper = startSweeper('duckdbAnalytics', options, (kind, cutoff, limit) => {
    const { table, id, time } = RETAINED[kind];
    return serial('sweep', async () => (await db.run(`DELETE FROM ${table} WHERE ${id} IN (SELECT ${id} FROM ${table} WHERE ${time} < $1::BIGINT LIMIT $2::BIGINT)`, [cutoff, limit])).rowsChanged);
  });
  const rows = async (sql: string, values: DuckDBValue[]) => (await db.runAndReadAll(sql, values)).getRowObjectsJS();

  async function append<T>(staging: Staging<T>, records: readonly T[]): Promise<number> {
    if (records.length === 0) return 0;
    // the first of a repeated id in one call wins, as it would over two calls
    const seen = new Set<string>();
    try {
      const appender = await db.createAppender(staging.staged);
      try {
        for (const record of records) {
          const id = staging.id(record);
          if (seen.has(id)) continue;
          seen.add(id);
          staging.write(appender, record);
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      const moved = await db.run(`INSERT INTO ${staging.table} SELECT * FROM ${staging.staged} ON CONFLICT DO NOTHING`);
      return moved.rowsChanged;
    } finally {
      // closing the appender flushes the rows written before a failure: the next append would move them in
      await db.run(`DELETE FROM ${staging.staged}`);
    }
  }

  return {
    kind: 'duckdb',
    appendEvents: (events) => serial('append', async () => (checkEvents(events), append(EVENTS, events))),
    appendMetrics: (points) => serial('append', async () => (checkMetrics(points), append(METRICS, points))),
    appendLate: (events) => serial('append', async () => (checkLate(events), append(LATE, events))),
    counts: (query) =>
      serial('counts', async () => {
        checkCounts(query);
        const typed = query.type !== undefined;
        const found = await rows(
          `SELECT occurred_at - occurred_at % $1::BIGINT AS ws, count(*) AS n, count(DISTINCT user_id) AS users
           FROM analytics_events WHERE occurred_at >= $2::BIGINT AND occurred_at < $3::BIGINT ${typed ? 'AND type = $4' : ''} GROUP BY ws ORDER BY ws`,
          typed ? [query.windowMs, query.from, query.to, query.type!] : [query.windowMs, query.from, query.to],
        );
        return found.map((row) => toCountWindow(row, query.windowMs));
      }),
    user: (userId) =>
      serial('user', async () => {
        checkUser(userId);
        return toUserSummary(await rows('SELECT type, count(*) AS n, min(occurred_at) AS first, max(occurred_at) AS last FROM analytics_events WHERE user_id = $1 GROUP BY type', [userId]));
      }),
    topTypes: (query) =>
      serial('topTypes', async () => {
        checkTopTypes(query);
        const found = await rows(
          'SELECT type, count(*) AS n FROM analytics_events WHERE occurred_at >= $1::BIGINT AND occurred_at < $2::BIGINT GROUP BY type ORDER BY n DESC, type LIMIT $3::BIGINT',
          [query.from, query.to, query.limit],
        );
        return found.map(toTypeCount);
      }),
    metricSummary: (query) =>
      serial('metricSummary', async () => {
        checkMetricSummary(query);
        const found = await rows(
          `SELECT occurred_at - occurred_at % $1::BIGINT AS ws, count(*) AS n, min(value) AS lo, max(value) AS hi, avg(value) AS mean, quantile_cont(value, 0.95) AS p95
           FROM analytics_metrics WHERE name = $2 AND occurred_at >= $3::BIGINT AND occurred_at < $4::BIGINT GROUP BY ws ORDER BY ws`,
          [query.windowMs, query.name, query.from, query.to],
        );
        return found.map((row) => toMetricWindow(row, query.windowMs));
      }),
    late: (range) =>
      serial('late', async () => {
        if (range) checkRange(range);
        const found = await rows(
          `SELECT type, window_start AS ws, window_end AS we, count(*) AS n FROM analytics_late ${lateWhere((n) => `$${n}::BIGINT`, range !== undefined)} GROUP BY type, window_start, window_end ORDER BY window_start, type`,
          range ? [range.from, range.to] : [],
        );
        return found.map(toLateWindow);
      }),
    sweepRetention: () => (closed ? Promise.reject(closedError('analytics (duckdb)')) : sweeper.sweep()),
    close() {
      closed = true;
      // calls made before it run first (the queue); a sweep stops after its current chunk
      return (closing ??= sweeper.close().then(() =>
        enqueue('close', async () => {
          db.closeSync();
          instance.closeSync();
        }),
      ));
    },
  };
}
