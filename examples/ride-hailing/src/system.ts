import { createApp } from '@herald/core';
import type { App, Logger, SqlTx } from '@herald/core';
import { engineFromEnv, type Engine, type EngineEnv } from '@herald/engine';
import { createGateway, METRICS_PATH, type Gateway } from '@herald/http';
import { pinoLogger } from '@herald/logging';
import { createMetrics, metricsServer, type HeraldMetrics } from '@herald/metrics';
import { registerBusinessMetrics } from './businessMetrics.js';
import type { RideHailingConfig } from './config.js';
import { EVENTS, TOPICS } from './events.js';
import { migrate } from './schema.js';
import { API_ERROR_KINDS, registerApiRoutes } from './services/api.js';
import { registerBookingService } from './services/booking.js';
import { registerDriverService } from './services/driver.js';
import { registerFraudService } from './services/fraud.js';
import { registerNotificationService } from './services/notification.js';
import { registerPaymentService } from './services/payment.js';
import { registerPricingService } from './services/pricing.js';
import { registerSurgePricing } from './services/realtime.js';

/** A running (or ready to run) ride-hailing process: some or all of its services. */
export interface RideHailing {
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
 * Assembles the services named in `config.services` over the engine `env` selects (the embedded
 * engine in `HERALD_DATA_DIR` by default, Kafka + PostgreSQL when `HERALD_KAFKA_BROKERS` and
 * `DATABASE_URL` are set). Each consuming service is its own consumer group, so the same code runs
 * them all in one process or each in its own, several replicas of any on Kafka + PostgreSQL.
 */
export async function createRideHailing(config: RideHailingConfig, env: EngineEnv = process.env): Promise<RideHailing> {
  const runs = new Set(config.services);
  const name = runs.size === 8 ? 'ride-hailing' : [...runs].join('.');
  const { runtime } = config;
  const logger = pinoLogger({ level: runtime.logLevel, fields: { service: name } });
  const engine = await engineFromEnv(env, { logger });
  try {
    await migrate(engine.stores, engine.kind);
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
    relay: runtime.relay,
  });
  const metrics = createMetrics({ app, pollIntervalMs: runtime.metricsPollIntervalMs });
  app.use(metrics);
  registerBusinessMetrics(app, metrics);
  const server = runtime.metricsServer && metricsServer({ metrics, ...runtime.metricsServer, logger });
  if (server) app.use(server);

  if (runs.has('booking')) registerBookingService(app);
  const surgeHoldMs = config.surge.windowMs + config.surge.graceMs;
  if (runs.has('pricing')) registerPricingService(app, { ...config.pricing, surgeHoldMs });
  if (runs.has('driver')) registerDriverService(app);
  if (runs.has('payment')) registerPaymentService(app);
  if (runs.has('notification')) registerNotificationService(app);
  if (runs.has('realtime')) registerSurgePricing(app, { ...config.surge, logger });
  if (runs.has('fraud')) registerFraudService(app, config.fraud);

  const closeApp = () => app.close({ deadlineMs: runtime.shutdownDeadlineMs });
  let gateway: Gateway<SqlTx> | undefined;
  if (runs.has('api')) {
    gateway = createGateway<SqlTx>({
      app,
      problems: { errorKinds: API_ERROR_KINDS },
      idempotency: { leaseMs: runtime.idempotencyLeaseMs },
      shutdown: { deadlineMs: runtime.shutdownDeadlineMs, readinessGraceMs: runtime.readinessGraceMs, onClosed: closeApp },
      metrics,
    });
    registerApiRoutes(gateway, app, { surgeHoldMs });
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
      logger.info('ride-hailing ready', { services: [...runs], url: address?.url, metricsUrl, engine: engine.description });
      return { ...(address ? { url: address.url } : {}), ...(metricsUrl ? { metricsUrl } : {}) };
    },
    async close() {
      await (gateway ? gateway.close() : closeApp());
    },
  };
}
