import { setTimeout as pause } from 'node:timers/promises';
import { CoreErrors, HeraldError, MAX_TIMER_MS, silentLogger, systemClock, type Clock, type Logger } from '@herald/core';

/**
 * How long each kind of record is kept, on event time (as a TimescaleDB retention policy or a
 * ClickHouse TTL on the time column): a record goes at the first sweep once its time is older than
 * `now - retention`. A kind left out is kept for ever.
 */
export interface AnalyticsRetention {
  /** Raw events, by `occurredAt`. */
  readonly eventsMs?: number;
  /** Metric samples, by `occurredAt`. */
  readonly metricsMs?: number;
  /** Late events, by `windowStart` (the window they missed: what `late(range)` selects by). */
  readonly lateMs?: number;
}

/** What one retention sweep deleted, per kind. */
export interface AnalyticsSweepResult {
  readonly events: number;
  readonly metrics: number;
  readonly late: number;
}

/** The retention options every analytics store takes (`sqliteAnalytics`, `duckdbAnalytics`, `pgAnalytics`). */
export interface AnalyticsRetentionOptions {
  /** What is kept how long; without it, everything is kept for ever. */
  readonly retention?: AnalyticsRetention;
  /** How often the store sweeps in the background. Default 60 000; at most `MAX_TIMER_MS` (a Node timer). */
  readonly sweepIntervalMs?: number;
  /**
   * Whether this store sweeps in the background (every `sweepIntervalMs`, when it has a retention).
   * Default true. Of several processes opening one database, those that only read (a query
   * service, a tool) turn it off; `sweepRetention()` still runs on demand.
   */
  readonly maintenance?: boolean;
  /** Where `now` comes from for the cutoffs. Default the system clock. */
  readonly clock?: Clock;
  /** Where a failed background sweep is reported (it is tried again at the next interval). */
  readonly logger?: Logger;
}

/** The kinds of record, in the order a sweep takes them. */
export const KINDS = ['events', 'metrics', 'late'] as const;
export type Kind = (typeof KINDS)[number];

/** Rows one delete statement of a sweep removes at most. */
export const SWEEP_CHUNK = 5000;

const OPTION: Readonly<Record<Kind, keyof AnalyticsRetention>> = { events: 'eventsMs', metrics: 'metricsMs', late: 'lateMs' };

/** Checks the options before anything is opened; throws core's `invalid-options` naming the option. */
export function checkRetentionOptions(store: string, options: AnalyticsRetentionOptions): void {
  const invalid = (message: string) => new HeraldError(CoreErrors.invalidOptions, `${store}: ${message}`);
  for (const kind of KINDS) {
    const value = options.retention?.[OPTION[kind]];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw invalid(`retention.${OPTION[kind]} must be a positive whole number of milliseconds, got ${value}`);
  }
  const interval = options.sweepIntervalMs;
  if (interval !== undefined && !(Number.isSafeInteger(interval) && interval > 0 && interval <= MAX_TIMER_MS)) {
    throw invalid(`sweepIntervalMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${interval}`);
  }
}

/** One store's bounded delete: removes at most `limit` records of `kind` older than `cutoff`; returns how many. */
export type DeleteChunk = (kind: Kind, cutoff: number, limit: number) => Promise<number>;

/**
 * A store's retention sweep: on demand (`sweep()`, joining one already running) and, with a
 * retention and `maintenance` on, every `sweepIntervalMs` on an unref'd timer (it never keeps the
 * process alive; a failure is logged and the next tick tries again). Each kind is deleted
 * `SWEEP_CHUNK` rows per statement, and between two full chunks the sweep waits as long as the
 * last one took: on SQLite no statement holds the write lock for long, and writers (appends of this
 * process, of others after their busy timeout) get it at least half the time; on DuckDB the calls
 * queued on its one connection run between chunks. `close()` stops the timer and ends a sweep in
 * flight after its current chunk (idempotent); the store closes its database after it.
 */
export function startSweeper(store: string, options: AnalyticsRetentionOptions, deleteChunk: DeleteChunk) {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const stop = new AbortController();
  let sweeping: Promise<AnalyticsSweepResult> | undefined;

  async function drain(kind: Kind, cutoff: number): Promise<number> {
    let total = 0;
    while (!stop.signal.aborted) {
      const started = performance.now();
      const deleted = await deleteChunk(kind, cutoff, SWEEP_CHUNK);
      total += deleted;
      if (deleted < SWEEP_CHUNK) break;
      await pause(Math.max(1, performance.now() - started), undefined, { signal: stop.signal }).catch(() => undefined);
    }
    return total;
  }

  async function sweepOnce(): Promise<AnalyticsSweepResult> {
    const now = clock.now();
    const deleted = { events: 0, metrics: 0, late: 0 };
    for (const kind of KINDS) {
      const keptMs = options.retention?.[OPTION[kind]];
      if (keptMs !== undefined) deleted[kind] = await drain(kind, now - keptMs);
    }
    return deleted;
  }

  function sweep(): Promise<AnalyticsSweepResult> {
    sweeping ??= sweepOnce().finally(() => (sweeping = undefined));
    return sweeping;
  }

  const timer =
    options.retention !== undefined && (options.maintenance ?? true)
      ? setInterval(function sweepAnalyticsRetention() {
          // retention is housekeeping: a failure must not escape the timer, only be reported
          sweep().catch((error: unknown) => logger.warn(`${store}: retention sweep failed; will try again at the next interval`, { error }));
        }, options.sweepIntervalMs ?? 60_000)
      : undefined;
  timer?.unref();

  return {
    sweep,
    async close(): Promise<void> {
      clearInterval(timer);
      stop.abort();
      await sweeping?.catch(() => undefined);
    },
  };
}
