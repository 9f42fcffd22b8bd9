import type { LogLevel } from '@herald/core';
import { selectServices, settingsFrom } from '@herald/engine';

/** The five services of seed 003; `all` runs every one in one process. */
export const SERVICES = ['api', 'relay', 'payment', 'ticket', 'order'] as const;
/** One of {@link SERVICES}. */
export type Service = (typeof SERVICES)[number];

/** Everything the example reads from its environment, with defaults filled in. */
export interface TicketOrdersConfig {
  /** Which services this process runs. */
  readonly services: readonly Service[];
  /** `PORT`, default 8080 (0 picks a free port). */
  readonly port: number;
  /** `HOST`, default 127.0.0.1 (use 0.0.0.0 in a container). */
  readonly host: string;
  /** `HERALD_CHAOS_RATE`: fraction of relay publishes dropped on purpose. Default 0; seed 003 uses 0.2. */
  readonly chaosRate: number;
  /** `HERALD_CHAOS_AFTER_ACCEPT_RATE`: fraction of relay publishes whose ack is "lost" (duplicates). Default 0. */
  readonly chaosAfterAcceptRate: number;
  /** `HERALD_RELAY_LEASE_MS`: how long a relay's claim on a key lasts, so how soon another relay takes over a dead relay's keys. Default 10 000. */
  readonly relayLeaseMs: number;
  /** `PAYMENT_LIMIT_CENTS`: a price above it is declined and the order cancelled. Default 100 000. */
  readonly paymentLimitCents: number;
  /** `HANDLER_FAILURE_RATE`: fraction of handler attempts failing transiently after their writes. Default 0. */
  readonly handlerFailureRate: number;
  /** `HERALD_RETRY_MAX_ATTEMPTS` (5), `HERALD_RETRY_INITIAL_DELAY_MS` (1 000), `HERALD_RETRY_MAX_DELAY_MS` (30 000). */
  readonly retry: { readonly maxAttempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** `HERALD_SHUTDOWN_DEADLINE_MS`: how long in-flight requests and events may take at shutdown. Default 10 000. */
  readonly shutdownDeadlineMs: number;
  /** `HERALD_IDEMPOTENCY_LEASE_MS`: after this, a retry may take over a key whose request died with its process. Default 60 000. */
  readonly idempotencyLeaseMs: number;
  /** `HERALD_READINESS_GRACE_MS`: at shutdown, how long /readyz says 503 before the listener closes. Default 0. */
  readonly readinessGraceMs: number;
  /** `HERALD_LOG_LEVEL`, default `info`. */
  readonly logLevel: LogLevel;
  /**
   * `METRICS_PORT`: when set, a standalone metrics server on this port (0: any free one), in any
   * process; the api serves `/metrics` on `PORT` anyway. Unset by default, so several processes on
   * one host never fight over one port.
   */
  readonly metricsPort: number | undefined;
  /** `METRICS_HOST`: interface of the metrics server, default 127.0.0.1 (0.0.0.0 in a container). */
  readonly metricsHost: string;
  /** `HERALD_METRICS_POLL_INTERVAL_MS`: how often lag, outbox backlog and dead letters are read for /metrics. Default 10 000; 0 never. */
  readonly metricsPollIntervalMs: number;
  /**
   * Whether to export traces: when `OTEL_TRACES_EXPORTER` names an exporter other than `none`, or
   * an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
   * The exporter itself is chosen by those variables (see `@herald/tracing`'s `startTracing`).
   */
  readonly tracing: boolean;
}

/**
 * Reads the example's own configuration from `env` and the command line (`--service api`, `--service
 * payment,ticket`, `--service all`; `HERALD_SERVICE` works too) with `settingsFrom` and
 * `selectServices` from `@herald/engine`: values are trimmed, an empty one is unset, and a bad one
 * throws `invalid-options` naming the variable. Which engine runs (embedded in `HERALD_DATA_DIR`,
 * or Kafka + PostgreSQL) is read by `engineFromEnv` from `@herald/engine`, not here.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): TicketOrdersConfig {
  const read = settingsFrom(env);
  return {
    services: selectServices(SERVICES, argv, env),
    port: read.integer('PORT', 8080, 0, 65_535),
    host: read.text('HOST', '127.0.0.1'),
    chaosRate: read.fraction('HERALD_CHAOS_RATE', 0),
    chaosAfterAcceptRate: read.fraction('HERALD_CHAOS_AFTER_ACCEPT_RATE', 0),
    relayLeaseMs: read.integer('HERALD_RELAY_LEASE_MS', 10_000, 100, 3_600_000),
    paymentLimitCents: read.integer('PAYMENT_LIMIT_CENTS', 100_000, 0, Number.MAX_SAFE_INTEGER),
    handlerFailureRate: read.fraction('HANDLER_FAILURE_RATE', 0),
    retry: {
      maxAttempts: read.integer('HERALD_RETRY_MAX_ATTEMPTS', 5, 1, 1000),
      initialDelayMs: read.integer('HERALD_RETRY_INITIAL_DELAY_MS', 1000, 0, 3_600_000),
      maxDelayMs: read.integer('HERALD_RETRY_MAX_DELAY_MS', 30_000, 0, 3_600_000),
    },
    shutdownDeadlineMs: read.integer('HERALD_SHUTDOWN_DEADLINE_MS', 10_000, 1, 3_600_000),
    idempotencyLeaseMs: read.integer('HERALD_IDEMPOTENCY_LEASE_MS', 60_000, 1, 86_400_000),
    readinessGraceMs: read.integer('HERALD_READINESS_GRACE_MS', 0, 0, 600_000),
    logLevel: read.oneOf<LogLevel>('HERALD_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'], 'info'),
    metricsPort: env['METRICS_PORT']?.trim() ? read.integer('METRICS_PORT', 0, 0, 65_535) : undefined,
    metricsHost: read.text('METRICS_HOST', '127.0.0.1'),
    metricsPollIntervalMs: read.integer('HERALD_METRICS_POLL_INTERVAL_MS', 10_000, 0, 3_600_000),
    tracing: tracingConfigured(env),
  };
}

function tracingConfigured(env: NodeJS.ProcessEnv): boolean {
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim();
  if (exporter) return exporter !== 'none';
  return Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}
