import { createApp } from '@herald/core';
import type { App, Logger, SqlTx } from '@herald/core';
import { engineFromEnv, type Engine, type EngineEnv } from '@herald/engine';
import { createGateway, METRICS_PATH, type Gateway } from '@herald/http';
import { pinoLogger } from '@herald/logging';
import { createMetrics, metricsServer, type HeraldMetrics } from '@herald/metrics';
import { registerBusinessMetrics } from './businessMetrics.js';
import type { ContentPlatformConfig } from './config.js';
import { EVENTS, TOPICS } from './events.js';
import { migrate } from './schema.js';
import { API_ERROR_KINDS, registerApiRoutes } from './services/api.js';
import { registerCommentService } from './services/comment.js';
import { registerContentService } from './services/content.js';
import { POST_BODY_LIMIT_BYTES } from './services/postRoutes.js';
import { registerNotificationService } from './services/notification.js';
import { prepareSearchIndex, registerSearchService } from './services/search.js';

/** A running (or ready to run) content-platform process: some or all of its services. */
export interface ContentPlatform {
  readonly app: App<SqlTx>;
  readonly engine: Engine;
  /** Present when this process runs the api. */
  readonly gateway: Gateway<SqlTx> | undefined;
  readonly metrics: HeraldMetrics;
  readonly logger: Logger;
  /** Starts listening (api), the relay, the consumer groups and the metrics, then reports ready. */
  start(): Promise<{ url?: string; metricsUrl?: string }>;
  /** Drains HTTP, then the app (consumers, relay, engine). Idempotent. */
  close(): Promise<void>;
}

/**
 * Assembles the services named in `config.services` over the engine `env` selects: the embedded
 * engine in `HERALD_DATA_DIR` by default, Kafka + PostgreSQL when `HERALD_KAFKA_BROKERS` and
 * `DATABASE_URL` are set. Each consuming service is its own consumer group, so the same code runs
 * them all in one process or each in its own (several replicas of any, on Kafka + PostgreSQL). The
 * tables are created here, before anything starts; a search service at a new index generation
 * empties the index here too (see `prepareSearchIndex`).
 */
export async function createContentPlatform(config: ContentPlatformConfig, env: EngineEnv = process.env): Promise<ContentPlatform> {
  const runs = new Set(config.services);
  const name = runs.size === 5 ? 'content-platform' : [...runs].join('.');
  const { runtime } = config;
  const logger = pinoLogger({ level: runtime.logLevel, fields: { service: name } });
  const engine = await engineFromEnv(env, { logger });
  let app: App<SqlTx>;
  try {
    await migrate(engine.stores, engine.kind);
    app = createApp<SqlTx>({
      name,
      broker: engine.broker,
      stores: engine.stores,
      events: EVENTS,
      topics: TOPICS,
      logger,
      handlerDefaults: { retry: runtime.retry, deadLetter: 'skip' },
      relay: runtime.relay,
    });
    if (runs.has('search')) await prepareSearchIndex({ stores: engine.stores, broker: engine.broker, generation: config.searchIndexGeneration, logger });
  } catch (error) {
    await engine.close();
    throw error;
  }
  const metrics = createMetrics({ app, pollIntervalMs: runtime.metricsPollIntervalMs });
  app.use(metrics);
  const server = runtime.metricsServer && metricsServer({ metrics, ...runtime.metricsServer, logger });
  if (server) app.use(server);
  registerBusinessMetrics(app, metrics);

  if (runs.has('content')) registerContentService(app);
  if (runs.has('comment')) registerCommentService(app);
  if (runs.has('search')) registerSearchService(app, { generation: config.searchIndexGeneration });
  if (runs.has('notification')) registerNotificationService(app);

  const closeApp = () => app.close({ deadlineMs: runtime.shutdownDeadlineMs });
  let gateway: Gateway<SqlTx> | undefined;
  if (runs.has('api')) {
    gateway = createGateway<SqlTx>({
      app,
      problems: { errorKinds: API_ERROR_KINDS },
      bodyLimitBytes: POST_BODY_LIMIT_BYTES,
      idempotency: { leaseMs: runtime.idempotencyLeaseMs },
      shutdown: { deadlineMs: runtime.shutdownDeadlineMs, readinessGraceMs: runtime.readinessGraceMs, onClosed: closeApp },
      metrics,
    });
    registerApiRoutes(gateway, app);
  }

  return {
    app,
    engine,
    gateway,
    metrics,
    logger,
    async start() {
      const address = gateway ? await gateway.listen({ port: config.port, host: config.host }) : undefined;
      if (address) logger.info('listening', { url: address.url });
      await app.start();
      await app.ready();
      gateway?.markReady();
      const metricsUrl = server?.url ?? (address ? `${address.url}${METRICS_PATH}` : undefined);
      logger.info('content-platform ready', { services: [...runs], url: address?.url, metricsUrl, engine: engine.description, searchIndexGeneration: runs.has('search') ? config.searchIndexGeneration : undefined });
      return { ...(address ? { url: address.url } : {}), ...(metricsUrl ? { metricsUrl } : {}) };
    },
    async close() {
      await (gateway ? gateway.close() : closeApp());
    },
  };
}
