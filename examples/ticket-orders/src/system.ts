import { createApp } from '@herald/core';
import type { App, AppOptions, Logger, SqlTx } from '@herald/core';
import { METRICS_PATH, type Gateway } from '@herald/http';
import { engineFromEnv, type Engine, type EngineEnv } from '@herald/engine';
import { pinoLogger } from '@herald/logging';
import { createMetrics, metricsServer, type HeraldMetrics } from '@herald/metrics';
import { createTracing, startTracing, type TracingOptions } from '@herald/tracing';
import type { TicketOrdersConfig } from './config.js';
import { EVENTS, GROUPS, TOPICS } from './events.js';
import { failureInjector } from './failures.js';
import { migrate } from './schema.js';
import { createApi } from './services/api.js';
import { registerOrderService } from './services/order.js';
import { registerPaymentService } from './services/payment.js';
import { registerTicketService } from './services/ticket.js';

/** A running (or ready to run) ticket-orders process: some or all of its services. */
export interface TicketOrders {
  readonly app: App<SqlTx>;
  /** The engine it runs on: embedded, or Kafka + PostgreSQL (chosen by the environment). */
  readonly engine: Engine;
  /** Present when this process runs the api service. */
  readonly gateway: Gateway<SqlTx> | undefined;
  /** This process' metrics: served by the api at /metrics, and by a metrics server when `METRICS_PORT` is set. */
  readonly metrics: HeraldMetrics;
  readonly logger: Logger;
  /** Creates the tables, starts listening (api), starts the relay, the consumer groups and the metrics, then reports ready. */
  start(): Promise<{ url?: string; metricsUrl?: string }>;
  /** Drains HTTP, then the app (consumers, relay, engine), then flushes the traces. Idempotent. */
  close(): Promise<void>;
}

/** What a caller (a test) gives besides the configuration. */
export interface TicketOrdersOptions {
  /** Where traces go (a test's in-memory exporter), in place of the SDK `config.tracing` would start. */
  readonly tracerProvider?: TracingOptions['tracerProvider'];
}

/**
 * Assembles the services chosen in `config.services` over the engine `env` selects (see
 * `engineFromEnv`): the embedded engine in `HERALD_DATA_DIR` by default, Kafka + PostgreSQL when
 * `HERALD_KAFKA_BROKERS` and `DATABASE_URL` are set. The code is the same either way. Each
 * consumer service is its own consumer group, so the same code runs all five in one process or
 * each in its own process (several of each, on Kafka) on one shared log and store. Logs are pino's
 * JSON lines (readable in a terminal); traces are exported when the OTEL_* variables say where.
 */
export async function createTicketOrders(config: TicketOrdersConfig, env: EngineEnv = process.env, options: TicketOrdersOptions = {}): Promise<TicketOrders> {
  const runs = new Set(config.services);
  const name = runs.size === 5 ? 'ticket-orders' : [...runs].join('.');
  const { runtime } = config;
  const logger = pinoLogger({ level: runtime.logLevel, fields: { service: name } });
  const sdk = !options.tracerProvider && config.tracing ? startTracing({ serviceName: name }) : undefined;
  const engine = await engineFromEnv(env, { logger }).catch(async (error: unknown) => {
    await sdk?.shutdown();
    throw error;
  });
  const tracerProvider = options.tracerProvider ?? sdk?.provider;
  const tracing = tracerProvider && createTracing({ tracerProvider, messagingSystem: engine.kind === 'kafka-postgres' ? 'kafka' : undefined });
  const appOptions: AppOptions<SqlTx> = {
    name,
    broker: engine.broker,
    stores: engine.stores,
    events: EVENTS,
    topics: TOPICS,
    logger,
    handlerDefaults: { retry: runtime.retry, deadLetter: 'skip' },
    relay: runtime.relay,
  };
  const app = createApp<SqlTx>(tracing ? tracing.app(appOptions) : appOptions);
  const metrics = createMetrics({ app, pollIntervalMs: runtime.metricsPollIntervalMs });
  app.use(metrics);
  const server = runtime.metricsServer && metricsServer({ metrics, ...runtime.metricsServer, logger });
  if (server) app.use(server);
  const maybeFail = failureInjector(config.handlerFailureRate);
  if (runs.has('payment')) registerPaymentService(app, { limitCents: config.paymentLimitCents, maybeFail });
  if (runs.has('ticket')) registerTicketService(app, { maybeFail });
  if (runs.has('order')) registerOrderService(app, { stepDeadlineMs: config.stepDeadlineMs, maybeFail });
  const closeApp = () => app.close({ deadlineMs: runtime.shutdownDeadlineMs });
  const gateway = runs.has('api')
    ? createApi(app, {
        shutdownDeadlineMs: runtime.shutdownDeadlineMs,
        readinessGraceMs: runtime.readinessGraceMs,
        idempotencyLeaseMs: runtime.idempotencyLeaseMs,
        onClosed: closeApp,
        metrics,
        ...(tracing ? { tracing: tracing.http } : {}),
      })
    : undefined;
  const groups = (['payment', 'ticket', 'order'] as const).filter((s) => runs.has(s)).map((s) => GROUPS[s]);

  return {
    app,
    engine,
    gateway,
    metrics,
    logger,
    async start() {
      await migrate(engine.stores, { engine: engine.kind });
      const address = gateway ? await gateway.listen({ port: config.port, host: config.host }) : undefined;
      // live (and answering 503 on /readyz) from here; ready once the consumers run
      if (address) logger.info('listening', { url: address.url });
      await app.start({ groups, relay: runs.has('relay') });
      gateway?.markReady();
      const metricsUrl = server?.url ?? (address ? `${address.url}${METRICS_PATH}` : undefined);
      logger.info('ticket-orders ready', {
        services: [...runs],
        url: address?.url,
        metricsUrl,
        engine: engine.description,
        chaosRate: runtime.relay.chaos.failRate,
        paymentLimitCents: config.paymentLimitCents,
      });
      return { ...(address ? { url: address.url } : {}), ...(metricsUrl ? { metricsUrl } : {}) };
    },
    async close() {
      await (gateway ? gateway.close() : closeApp());
      await sdk?.shutdown();
    },
  };
}
