import type { Pool, PoolConfig } from 'pg';
import { HeraldError } from '@herald/core';
import { AnalyticsErrors, closedError } from './errors.js';
import { checkRetentionOptions, startSweeper, type AnalyticsRetentionOptions } from './retention.js';
import { RETAINED, eventRow, lateRow, lateWhere, metricRow, toCountWindow, toLateWindow, toMetricWindow, toTypeCount, toUserSummary } from './sql.js';
import type { AnalyticsStore } from './types.js';
import { checkCounts, checkEvents, checkLate, checkMetricSummary, checkMetrics, checkRange, checkTopTypes, checkUser } from './validate.js';

export interface PgAnalyticsOptions extends AnalyticsRetentionOptions {
  /** `postgres://...`; or `pool` */
  readonly connectionString?: string;
  /** A pool to use (not closed by `close()`); else one is made from `connectionString`. */
  readonly pool?: Pool;
  /** Settings of the pool made from `connectionString`. */
  readonly poolConfig?: Omit<PoolConfig, 'connectionString'>;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS analytics_events (event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, type TEXT NOT NULL, occurred_at BIGINT NOT NULL, properties JSONB NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS analytics_events_time ON analytics_events (occurred_at) INCLUDE (type, user_id)`,
  `CREATE INDEX IF NOT EXISTS analytics_events_user ON analytics_events (user_id) INCLUDE (type, occurred_at)`,
  `CREATE TABLE IF NOT EXISTS analytics_metrics (point_id TEXT PRIMARY KEY, name TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, occurred_at BIGINT NOT NULL, labels JSONB NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS analytics_metrics_name_time ON analytics_metrics (name, occurred_at) INCLUDE (value)`,
  `CREATE TABLE IF NOT EXISTS analytics_late (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, occurred_at BIGINT NOT NULL, window_start BIGINT NOT NULL, window_end BIGINT NOT NULL, arrived_at BIGINT NOT NULL)`,
  // retention finds the oldest rows of each kind through these (events through analytics_events_time)
  `CREATE INDEX IF NOT EXISTS analytics_metrics_time ON analytics_metrics (occurred_at)`,
  `CREATE INDEX IF NOT EXISTS analytics_late_window ON analytics_late (window_start)`,
];
/** Serialises schema creation across processes (CREATE ... IF NOT EXISTS races otherwise). */
const SCHEMA_LOCK = 1_214_603_873; // "Hera"

/**
 * Whether PostgreSQL refused a value as data (SQLSTATE class 22, "data exception": text jsonb
 * cannot read, a number out of range). That is the input's or the stored data's fault: the same
 * statement fails again however often it is retried, so an append fails as an invalid record and
 * a query as refused, neither as an unavailable database: reported as retriable, a consumer would
 * retry the append and then dead-letter whichever record happened to carry it, and a client would
 * retry the query for ever.
 */
function isDataException(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && code.length === 5 && code.startsWith('22');
}

/** Transposes rows into one array per column, for `unnest` (one statement, any number of rows). */
function columns(rows: readonly (readonly unknown[])[], width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const row of rows) for (let i = 0; i < width; i++) out[i]!.push(row[i]);
  return out;
}

/**
 * The analytics store on PostgreSQL, for when the system runs on Kafka + PostgreSQL: appends are
 * one `INSERT ... SELECT unnest(...) ON CONFLICT DO NOTHING` each; the percentile is
 * `percentile_cont`. Tables are created on first use. A retention sweep deletes a bounded chunk per
 * statement, skipping rows another transaction holds, so sweeps of several processes (every
 * consumer of a group) split the work and never wait on each other or on appends.
 */
export async function pgAnalytics(options: PgAnalyticsOptions): Promise<AnalyticsStore> {
  checkRetentionOptions('pgAnalytics', options);
  let pool: Pool;
  const owned = options.pool === undefined;
  try {
    if (options.pool) pool = options.pool;
    else {
      if (!options.connectionString) throw new Error('connectionString or pool is required');
      const { default: pg } = await import('pg');
      pool = new pg.Pool({ ...options.poolConfig, connectionString: options.connectionString });
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const statement of SCHEMA) await client.query(statement);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  } catch (cause) {
    throw new HeraldError(AnalyticsErrors.unavailable, 'analytics: cannot prepare the PostgreSQL tables', { cause });
  }
  const pg = pool;
  let closed = false;
  let closing: Promise<void> | undefined;
  // a pool given by the caller would go on answering after close(), one made here would fail as unavailable
  const assertOpen = () => {
    if (closed) throw closedError('analytics (postgres)');
  };
  // close() waits for these before it ends the pool, which would leave a query waiting for a client for ever
  const running = new Set<Promise<unknown>>();
  const db = {
    query(sql: string, values: unknown[]) {
      const run = pg.query(sql, values);
      running.add(run);
      void run.finally(() => running.delete(run)).catch(() => {});
      return run;
    },
  };
  async function query(what: string, sql: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      return (await db.query(sql, values)).rows as Record<string, unknown>[];
    } catch (cause) {
      if (isDataException(cause)) {
        throw new HeraldError(AnalyticsErrors.queryRefused, `analytics (postgres): ${what}: PostgreSQL refused to compute it: ${cause.message}`, { cause, details: { sqlState: cause.code } });
      }
      throw new HeraldError(AnalyticsErrors.unavailable, `analytics (postgres): ${what} failed`, { cause });
    }
  }
  async function insert(table: string, types: readonly string[], rows: readonly (readonly unknown[])[]): Promise<number> {
    if (rows.length === 0) return 0;
    const sql = `INSERT INTO ${table} SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) ON CONFLICT DO NOTHING`;
    try {
      return (await db.query(sql, columns(rows, types.length))).rowCount ?? 0;
    } catch (cause) {
      if (isDataException(cause)) {
        throw new HeraldError(AnalyticsErrors.invalidRecord, `analytics (postgres): append to ${table}: PostgreSQL refused a value: ${cause.message}`, { cause, details: { sqlState: cause.code } });
      }
      throw new HeraldError(AnalyticsErrors.unavailable, `analytics (postgres): append to ${table} failed`, { cause });
    }
  }
  // the rows locked by the sub-select are deleted by their address (a TID scan)
  const sweeper = startSweeper('pgAnalytics', options, async (kind, cutoff, limit) => {
    const { table, time } = RETAINED[kind];
    const sql = `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${time} < $1::bigint LIMIT $2 FOR UPDATE SKIP LOCKED))`;
    try {
      return (await db.query(sql, [cutoff, limit])).rowCount ?? 0;
    } catch (cause) {
      throw new HeraldError(AnalyticsErrors.unavailable, `analytics (postgres): retention sweep of ${table} failed`, { cause });
    }
  });

  return {
    kind: 'postgres',
    async appendEvents(events) {
      assertOpen();
      checkEvents(events);
      return insert('analytics_events', ['text', 'text', 'text', 'bigint', 'jsonb'], events.map(eventRow));
    },
    async appendMetrics(points) {
      assertOpen();
      checkMetrics(points);
      return insert('analytics_metrics', ['text', 'text', 'float8', 'bigint', 'jsonb'], points.map(metricRow));
    },
    async appendLate(events) {
      assertOpen();
      checkLate(events);
      return insert('analytics_late', ['text', 'text', 'bigint', 'bigint', 'bigint', 'bigint'], events.map(lateRow));
    },
    async counts(q) {
      assertOpen();
      checkCounts(q);
      const typed = q.type !== undefined;
      const found = await query(
        'counts',
        `SELECT occurred_at - occurred_at % $1::bigint AS ws, count(*) AS n, count(DISTINCT user_id) AS users
         FROM analytics_events WHERE occurred_at >= $2 AND occurred_at < $3 ${typed ? 'AND type = $4' : ''} GROUP BY ws ORDER BY ws`,
        typed ? [q.windowMs, q.from, q.to, q.type] : [q.windowMs, q.from, q.to],
      );
      return found.map((row) => toCountWindow(row, q.windowMs));
    },
    async user(userId) {
      assertOpen();
      checkUser(userId);
      return toUserSummary(await query('user', 'SELECT type, count(*) AS n, min(occurred_at) AS first, max(occurred_at) AS last FROM analytics_events WHERE user_id = $1 GROUP BY type', [userId]));
    },
    async topTypes(q) {
      assertOpen();
      checkTopTypes(q);
      const found = await query(
        'topTypes',
        'SELECT type, count(*) AS n FROM analytics_events WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY type ORDER BY n DESC, type COLLATE "C" LIMIT $3',
        [q.from, q.to, q.limit],
      );
      return found.map(toTypeCount);
    },
    async metricSummary(q) {
      assertOpen();
      checkMetricSummary(q);
      const found = await query(
        'metricSummary',
        `SELECT occurred_at - occurred_at % $1::bigint AS ws, count(*) AS n, min(value) AS lo, max(value) AS hi, avg(value) AS mean,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95
         FROM analytics_metrics WHERE name = $2 AND occurred_at >= $3 AND occurred_at < $4 GROUP BY ws ORDER BY ws`,
        [q.windowMs, q.name, q.from, q.to],
      );
      return found.map((row) => toMetricWindow(row, q.windowMs));
    },
    async late(range) {
      assertOpen();
      if (range) checkRange(range);
      const found = await query(
        'late',
        `SELECT type, window_start AS ws, window_end AS we, count(*) AS n FROM analytics_late ${lateWhere((n) => `$${n}`, range !== undefined)} GROUP BY type, window_start, window_end ORDER BY window_start, type COLLATE "C"`,
        range ? [range.from, range.to] : [],
      );
      return found.map(toLateWindow);
    },
    async sweepRetention() {
      assertOpen();
      return sweeper.sweep();
    },
    close() {
      closed = true;
      return (closing ??= (async () => {
        await sweeper.close();
        // every call that passed assertOpen has its query in `running` by now (none awaits before it)
        while (running.size > 0) await Promise.allSettled(running);
        if (owned) await pg.end();
      })());
    },
  };
}
