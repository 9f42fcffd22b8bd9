import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CoreErrors, createApp, HeraldError, hasWindowStore, type App, type Logger, type SqlTx } from '@herald/core';
import { duckdbAnalytics, pgAnalytics, sqliteAnalytics, type AnalyticsRetentionOptions, type AnalyticsStore } from '@herald/analytics';
import { DEFAULT_DATA_DIR, engineFromEnv, invalidSetting, type Engine, type EngineEnv } from '@herald/engine';
import { pinoLogger } from '@herald/logging';
import { createMetrics, type HeraldMetrics } from '@herald/metrics';
import type { AnalyticsStoreKind, PipelineConfig } from './config.js';
import { EVENTS, GROUPS, TOPICS } from './events.js';
import { readClosingGrace, recordClosingGrace } from './grace.js';
import { createListeners, type PipelineUrls } from './listeners.js';
import { createQueries, type Queries } from './queries.js';
import { createSeedMetrics, type SeedMetrics } from './seedMetrics.js';
import { registerConsumer } from './services/consumer.js';

export type { PipelineUrls } from './listeners.js';

/** A running (or ready to run) analytics pipeline process: some or all of its services. */
export interface AnalyticsPipeline {
  readonly app: App<SqlTx>;
  /** The engine it runs on: embedded, or Kafka + PostgreSQL (chosen by the environment). */
  readonly engine: Engine;
  /** The analytics store, when this process runs the consumer or the analytics service. */
  readonly store: AnalyticsStore | undefined;
  readonly metrics: HeraldMetrics;
  readonly logger: Logger;
  /** Starts listening, then the consumer groups and the metrics, then reports ready (`analytics-pipeline ready`). */
  start(): Promise<PipelineUrls>;
  /** Drains the listeners, then the app (consumers, engine), then closes the analytics store. Idempotent. */
  close(): Promise<void>;
}

/**
 * Assembles the services chosen in `config.services` over the engine `env` selects (see
 * `engineFromEnv`): the embedded engine in `HERALD_DATA_DIR` by default, Kafka + PostgreSQL when
 * `HERALD_KAFKA_BROKERS` and `DATABASE_URL` are set. The same code runs the three services in
 * one process or each in its own (several consumers on Kafka: the stream's partitions, window
 * state and stream time move between them through the shared stores).
 */
export async function createAnalyticsPipeline(config: PipelineConfig, env: EngineEnv = process.env): Promise<AnalyticsPipeline> {
  const runs = new Set(config.services);
  const name = runs.size === 3 ? 'analytics-pipeline' : [...runs].join('.');
  const { runtime } = config;
  const logger = pinoLogger({ level: runtime.logLevel, fields: { service: name } });
  const engine = await engineFromEnv(env, { logger });
  let store: AnalyticsStore | undefined;
  try {
    // the consumer, which writes the store, sweeps it; an analytics service alone only reads it
    store = runs.has('consumer') || runs.has('analytics') ? await openStore(config, env, { maintenance: runs.has('consumer'), logger }) : undefined;
  } catch (error) {
    await engine.close();
    throw error;
  }
  const app = createApp<SqlTx>({
    name,
    broker: engine.broker,
    stores: engine.stores,
    events: EVENTS,
    topics: TOPICS,
    logger,
    handlerDefaults: { retry: runtime.retry, deadLetter: 'skip' },
  });
  const metrics = createMetrics({ app, pollIntervalMs: runtime.metricsPollIntervalMs });
  app.use(metrics);
  const seed: SeedMetrics = createSeedMetrics(metrics, app.instrumentation);
  if (runs.has('consumer')) registerConsumer(app, { store: store!, graceMs: config.graceMs, idleTimeoutMs: config.idleTimeoutMs });
  const queries: Queries | undefined = runs.has('analytics') ? createQueries({ store: store!, windows: windowsOf(app), graceMs: config.graceMs, retentionMs: config.analyticsRetentionMs }) : undefined;
  const listeners = createListeners(app, { config, runs, seed, logger, queries });
  const groups = runs.has('consumer') ? [GROUPS.stream, GROUPS.metrics] : [];

  let closing: Promise<void> | undefined;
  return {
    app,
    engine,
    store,
    metrics,
    logger,
    async start() {
      const urls: Record<string, string> = {};
      // live (and 503 on /readyz) from here; ready once the consumer groups hold their partitions
      for (const listener of listeners) urls[listener.key] = await listener.listen();
      if (listeners.length > 0) logger.info('listening', urls);
      await shareGrace(app, { config, runs, logger });
      await app.start({ groups, relay: false });
      await app.ready();
      for (const listener of listeners) listener.markReady();
      logger.info('analytics-pipeline ready', { services: [...runs], ...urls, engine: engine.description, analyticsStore: store?.kind, graceMs: config.graceMs, analyticsRetentionMs: config.analyticsRetentionMs });
      return urls;
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled(listeners.map((listener) => listener.close()));
        seed.close();
        await app.close({ deadlineMs: runtime.shutdownDeadlineMs });
        await store?.close();
      })();
      return closing;
    },
  };
}

/**
 * The analytics store, keeping each kind of record `ANALYTICS_RETENTION_MS` on event time; with
 * `maintenance`, this process sweeps it every minute (the store's default interval).
 */
async function openStore(config: PipelineConfig, env: EngineEnv, sweep: { maintenance: boolean; logger: Logger }): Promise<AnalyticsStore> {
  const keptMs = config.analyticsRetentionMs;
  const retention: AnalyticsRetentionOptions = { retention: { eventsMs: keptMs, metricsMs: keptMs, lateMs: keptMs }, ...sweep };
  const dataDir = env['HERALD_DATA_DIR'] || DEFAULT_DATA_DIR;
  if (config.analyticsStore === 'postgres') return pgAnalytics({ connectionString: env['DATABASE_URL']!, poolConfig: { max: 4 }, ...retention });
  const kind = config.analyticsStoreChosen ? config.analyticsStore : embeddedStoreKind(config.analyticsStore, dataDir);
  if (kind === 'duckdb') return duckdbAnalytics({ path: join(dataDir, DUCKDB_FILE), ...retention });
  return sqliteAnalytics({ path: join(dataDir, SQLITE_FILE), ...retention });
}

const DUCKDB_FILE = 'analytics.duckdb';
const SQLITE_FILE = 'analytics.db';

/**
 * The embedded store by default: the one whose file `dataDir` already holds, so a change of how the
 * services are laid out never opens an empty store beside the one with the data. A process that
 * runs both the consumer and the analytics service may use either and takes the SQLite file when
 * only it exists; one that runs either alone shares its file with other processes, which a DuckDB
 * file does not allow: finding only the DuckDB file, it refuses to start and says what to do.
 */
function embeddedStoreKind(preferred: AnalyticsStoreKind, dataDir: string): AnalyticsStoreKind {
  const duckdb = existsSync(join(dataDir, DUCKDB_FILE));
  const sqlite = existsSync(join(dataDir, SQLITE_FILE));
  if (preferred === 'duckdb' && sqlite && !duckdb) return 'sqlite';
  if (preferred === 'sqlite' && duckdb && !sqlite) {
    throw invalidSetting(
      `${dataDir} holds its analytics in ${DUCKDB_FILE}, written by a process that ran the consumer and the analytics service together; ` +
        'a DuckDB file is held by one process, so run those two services in one process (--service consumer,analytics or all), ' +
        'or set ANALYTICS_STORE=sqlite to start a new, empty store beside it',
    );
  }
  return preferred;
}

/**
 * The consumer records the grace it closes minutes with before its groups start (the analytics
 * service judges finality by it: see `grace.ts`); an analytics service started with another
 * `STREAM_GRACE_MS` says so, since its own value no longer matters to `counts`, and so does one
 * that finds no record yet (it uses its own value until a consumer starts).
 */
async function shareGrace(app: App<SqlTx>, options: { config: PipelineConfig; runs: ReadonlySet<string>; logger: Logger }): Promise<void> {
  const { config, runs, logger } = options;
  if (runs.has('consumer')) {
    const recorded = await recordClosingGrace(app.stores, windowsOf(app), config.graceMs);
    if (recorded.held) logger.warn('STREAM_GRACE_MS lowered: the minutes open until now close by the grace they were opened with', { graceMs: recorded.graceMs, held: recorded.held });
    return;
  }
  if (!runs.has('analytics')) return;
  const recorded = await readClosingGrace(windowsOf(app));
  if (recorded === undefined) logger.warn('no consumer has recorded its grace yet: counts uses this process\'s STREAM_GRACE_MS until one starts', { graceMs: config.graceMs });
  else if (recorded.graceMs !== config.graceMs) {
    logger.warn('STREAM_GRACE_MS differs from the consumer\'s: counts uses the consumer\'s (set the same value on every service)', { graceMs: config.graceMs, consumerGraceMs: recorded.graceMs });
  }
}

function windowsOf(app: App<SqlTx>) {
  if (!hasWindowStore(app.stores)) throw new HeraldError(CoreErrors.invalidOptions, 'the analytics service reads the stream\'s window state: the engine keeps none');
  return app.stores.windows;
}
