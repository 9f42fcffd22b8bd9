import { createApp } from '@herald/core';
import type { App, Logger, SqlTx } from '@herald/core';
import { engineFromEnv, type Engine, type EngineEnv } from '@herald/engine';
import { createGateway, jwtAuthenticator, METRICS_PATH, type Gateway } from '@herald/http';
import { pinoLogger } from '@herald/logging';
import { createMetrics, metricsServer, type HeraldMetrics } from '@herald/metrics';
import { createEventWaiter, createRequester } from '@herald/reply';
import type { AsyncOrdersConfig } from './config.js';
import { DepositApplied, DepositFailed, EVENTS, GetProfile, OrderStatusUpdated, TOPICS } from './events.js';
import { registerBusinessMetrics } from './businessMetrics.js';
import { failureInjector } from './failures.js';
import { migrate } from './schema.js';
import { AUTH_ERRORS, CUSTOMER_ROLE, loadSigningKey, registerAuthRoutes, TOKEN_AUDIENCE, TOKEN_ISSUER, verificationKey } from './services/auth.js';
import { registerBillingService } from './services/billing.js';
import { GATEWAY_ERROR_KINDS, registerGatewayProjection, registerGatewayRoutes } from './services/gateway.js';
import { registerBillingRoutes } from './services/gatewayBilling.js';
import { registerNotificationService, registerSenderService } from './services/notification.js';
import { registerOrderService } from './services/order.js';
import { registerUserService } from './services/user.js';

/** A running (or ready to run) async-orders process: some or all of its services. */
export interface AsyncOrders {
  readonly app: App<SqlTx>;
  readonly engine: Engine;
  /** Present when this process runs the gateway or auth (the HTTP front). */
  readonly gateway: Gateway<SqlTx> | undefined;
  readonly metrics: HeraldMetrics;
  readonly logger: Logger;
  /** Starts listening (HTTP front), the relay, the timers, the consumer groups and the metrics, then reports ready. */
  start(): Promise<{ url?: string; metricsUrl?: string }>;
  /** Drains HTTP, then the app (consumers, relay, engine). Idempotent. */
  close(): Promise<void>;
}

/**
 * Assembles the services named in `config.services` over the engine `env` selects: the embedded
 * engine in `HERALD_DATA_DIR` by default, Kafka + PostgreSQL when `HERALD_KAFKA_BROKERS` and
 * `DATABASE_URL` are set. Each service is its own consumer group, so the same code runs them all in
 * one process or each in its own (several replicas of any, on Kafka + PostgreSQL). The tables are
 * created here, before anything starts, and the token signing key is loaded (or created once).
 */
export async function createAsyncOrders(config: AsyncOrdersConfig, env: EngineEnv = process.env): Promise<AsyncOrders> {
  const runs = new Set(config.services);
  const name = runs.size === 7 ? 'async-orders' : [...runs].join('.');
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
  const server = runtime.metricsServer && metricsServer({ metrics, ...runtime.metricsServer, logger });
  if (server) app.use(server);
  registerBusinessMetrics(app, metrics);

  const maybeFail = failureInjector(config.handlerFailureRate);
  if (runs.has('order')) registerOrderService(app, { paymentTimeoutMs: config.paymentTimeoutMs, maybeFail });
  if (runs.has('billing')) registerBillingService(app, { startingBalanceCents: config.startingBalanceCents, maybeFail });
  if (runs.has('user')) registerUserService(app, { maybeFail });
  if (runs.has('sender')) registerSenderService(app, { maybeFail });
  if (runs.has('notification')) {
    const requester = createRequester({ app, requests: [GetProfile], instanceId: `notification-${config.instanceId}` });
    app.use(requester);
    registerNotificationService(app, { requester, profileTimeoutMs: config.profileTimeoutMs, maybeFail });
  }

  const closeApp = () => app.close({ deadlineMs: runtime.shutdownDeadlineMs });
  let gateway: Gateway<SqlTx> | undefined;
  if (runs.has('gateway') || runs.has('auth')) {
    const key = await loadSigningKey(engine.stores, app.clock);
    gateway = createGateway<SqlTx>({
      app,
      auth: await jwtAuthenticator({ keys: [verificationKey(key)], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, algorithms: ['ES256'], clock: app.clock }),
      problems: {
        errorKinds: {
          [AUTH_ERRORS.usernameTaken]: 'conflict',
          [AUTH_ERRORS.invalidCredentials]: 'unauthorized',
          ...GATEWAY_ERROR_KINDS,
        },
      },
      idempotency: { leaseMs: runtime.idempotencyLeaseMs },
      shutdown: { deadlineMs: runtime.shutdownDeadlineMs, readinessGraceMs: runtime.readinessGraceMs, onClosed: closeApp },
      metrics,
    });
    if (runs.has('auth')) registerAuthRoutes(gateway, { app, key, tokenTtlSeconds: config.tokenTtlSeconds });
    if (runs.has('gateway')) {
      const waiter = createEventWaiter({ app, events: [OrderStatusUpdated, DepositApplied, DepositFailed], instanceId: `gateway-${config.instanceId}` });
      app.use(waiter);
      const routes = { app, waiter, waitMs: config.orderWaitMs, role: CUSTOMER_ROLE };
      registerGatewayRoutes(gateway, routes);
      registerBillingRoutes(gateway, routes);
      registerGatewayProjection(app);
    }
  }

  return {
    app,
    engine,
    gateway,
    metrics,
    logger,
    async start() {
      // the app first: a POST /orders waits for its status event once its work committed, which
      // needs the event waiter started; an order taken before would be answered 202, not 201
      await app.start();
      const address = gateway ? await gateway.listen({ port: config.port, host: config.host }) : undefined;
      if (address) logger.info('listening', { url: address.url });
      await app.ready();
      gateway?.markReady();
      const metricsUrl = server?.url ?? (address ? `${address.url}${METRICS_PATH}` : undefined);
      logger.info('async-orders ready', { services: [...runs], url: address?.url, metricsUrl, engine: engine.description, instanceId: config.instanceId });
      return { ...(address ? { url: address.url } : {}), ...(metricsUrl ? { metricsUrl } : {}) };
    },
    async close() {
      await (gateway ? gateway.close() : closeApp());
    },
  };
}
