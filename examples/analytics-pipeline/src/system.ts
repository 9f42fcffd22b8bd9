import { join } from 'node:path';
import { CoreErrors, createApp, HeraldError, hasWindowStore, type App, type Logger, type SqlTx } from '@herald/core';
import { duckdbAnalytics, pgAnalytics, sqliteAnalytics, type AnalyticsStore } from '@herald/analytics';
import { DEFAULT_DATA_DIR, engineFromEnv, type Engine, type EngineEnv } from '@herald/engine';
import { pinoLogger } from '@herald/logging';
import { createMetrics, type HeraldMetrics } from '@herald/metrics';
import type { PipelineConfig } from './config.js';
import { EVENTS, GROUPS, TOPICS } from './events.js';
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
    store = runs.has('consumer') || runs.has('analytics') ? await openStore(config, env) : undefined;
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
  const queries: Queries | undefined = runs.has('analytics') ? createQueries({ store: store!, windows: windowsOf(app), graceMs: config.graceMs }) : undefined;
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
      await app.start({ groups, relay: false });
      await app.ready();
      for (const listener of listeners) listener.markReady();
      logger.info('analytics-pipeline ready', { services: [...runs], ...urls, engine: engine.description, analyticsStore: store?.kind, graceMs: config.graceMs });
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

async function openStore(config: PipelineConfig, env: EngineEnv): Promise<AnalyticsStore> {
  const dataDir = env['HERALD_DATA_DIR'] || DEFAULT_DATA_DIR;
  if (config.analyticsStore === 'postgres') return pgAnalytics({ connectionString: env['DATABASE_URL']!, poolConfig: { max: 4 } });
  if (config.analyticsStore === 'duckdb') return duckdbAnalytics({ path: join(dataDir, 'analytics.duckdb') });
  return sqliteAnalytics({ path: join(dataDir, 'analytics.db') });
}

function windowsOf(app: App<SqlTx>) {
  if (!hasWindowStore(app.stores)) throw new HeraldError(CoreErrors.invalidOptions, 'the analytics service reads the stream\'s window state: the engine keeps none');
  return app.stores.windows;
}
