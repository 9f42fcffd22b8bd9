import { join } from 'node:path';
import { createApp, hasWindowStore, type App, type Logger, type SqlTx } from '@herald/core';
import { duckdbAnalytics, pgAnalytics, sqliteAnalytics, type AnalyticsStore } from '@herald/analytics';
import { DEFAULT_DATA_DIR, engineFromEnv, type Engine, type EngineEnv } from '@herald/engine';
import type { Gateway } from '@herald/http';
import { pinoLogger } from '@herald/logging';
import { createMetrics, type HeraldMetrics } from '@herald/metrics';
import type { PipelineConfig } from './config.js';
import { EVENTS, GROUPS, TOPICS } from './events.js';
import { createQueries, type Queries } from './queries.js';
import { createSeedMetrics, type SeedMetrics } from './seedMetrics.js';
import { createAnalyticsHttp } from './services/analytics.js';
import { registerConsumer } from './services/consumer.js';
import { createProducerHttp } from './services/producer.js';
import { createHealthHttp } from './services/health.js';
import { createAnalyticsGrpc } from './grpc/analytics.js';
import { createProducerGrpc } from './grpc/producer.js';
import { loadServices } from './grpc/protos.js';
import type { GrpcServer } from './grpc/server.js';

/** Where each listener of a started process answers (only those of the services it runs). */
export interface PipelineUrls {
  readonly producerHttp?: string;
  readonly consumerHttp?: string;
  readonly analyticsHttp?: string;
  /** `host:port` of the producer's gRPC server. */
  readonly producerGrpc?: string;
  /** `host:port` of the analytics service's gRPC server. */
  readonly analyticsGrpc?: string;
}

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
  const name = runs.size === 3 ? 'analytics-pipeline' : [...runs].join('+');
  const logger = pinoLogger({ level: config.logLevel, fields: { service: name } });
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
    handlerDefaults: { retry: config.retry, deadLetter: 'skip' },
  });
  const metrics = createMetrics({ app, pollIntervalMs: config.metricsPollIntervalMs });
  app.use(metrics);
  const seed: SeedMetrics = createSeedMetrics(metrics, app.instrumentation);
  const http = { shutdownDeadlineMs: config.shutdownDeadlineMs, metrics: seed.gateway };

  if (runs.has('consumer')) registerConsumer(app, { store: store!, graceMs: config.graceMs, idleTimeoutMs: config.idleTimeoutMs });
  const queries: Queries | undefined = runs.has('analytics') ? createQueries({ store: store!, windows: windowsOf(app), graceMs: config.graceMs }) : undefined;
  const gateways: { readonly key: keyof PipelineUrls; readonly port: number; readonly gateway: Gateway<SqlTx> }[] = [];
  if (runs.has('producer')) gateways.push({ key: 'producerHttp', port: config.ports.producerHttp, gateway: createProducerHttp(app, http) });
  if (runs.has('consumer')) gateways.push({ key: 'consumerHttp', port: config.ports.consumerHttp, gateway: createHealthHttp(app, http) });
  if (queries) gateways.push({ key: 'analyticsHttp', port: config.ports.analyticsHttp, gateway: createAnalyticsHttp(app, { ...http, queries }) });
  const groups = runs.has('consumer') ? [GROUPS.stream, GROUPS.metrics] : [];
  const services = runs.has('producer') || queries ? loadServices() : undefined;
  const grpcServers: { readonly key: keyof PipelineUrls; readonly port: number; readonly server: GrpcServer }[] = [];
  const grpcOptions = { logger, onError: seed.grpcError };
  if (runs.has('producer')) {
    grpcServers.push({ key: 'producerGrpc', port: config.ports.producerGrpc, server: createProducerGrpc(services!.Producer.service, { ...grpcOptions, publish: app.publishDirect }) });
  }
  if (queries) grpcServers.push({ key: 'analyticsGrpc', port: config.ports.analyticsGrpc, server: createAnalyticsGrpc(services!.Analytics.service, { ...grpcOptions, queries }) });

  let closing: Promise<void> | undefined;
  return {
    app,
    engine,
    store,
    metrics,
    logger,
    async start() {
      const urls: Record<string, string> = {};
      for (const { key, port, gateway } of gateways) urls[key] = (await gateway.listen({ port, host: config.host })).url;
      for (const { key, port, server } of grpcServers) urls[key] = await server.listen({ port, host: config.host });
      if (Object.keys(urls).length > 0) logger.info('listening', urls);
      await app.start({ groups, relay: false });
      await app.ready();
      for (const { gateway } of gateways) gateway.markReady();
      logger.info('analytics-pipeline ready', { services: [...runs], ...urls, engine: engine.description, analyticsStore: store?.kind, graceMs: config.graceMs });
      return urls;
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled([
          ...gateways.map(({ gateway }) => gateway.close()),
          ...grpcServers.map(({ server }) => server.close(config.shutdownDeadlineMs)),
        ]);
        seed.close();
        await app.close({ deadlineMs: config.shutdownDeadlineMs });
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
  if (!hasWindowStore(app.stores)) throw new Error('the engine keeps no window state');
  return app.stores.windows;
}
