import { ErrorCodes, HeraldError } from '@herald/core';
import type { LogLevel } from '@herald/core';

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
 * payment,ticket`, `--service all`; `HERALD_SERVICE` works too). Throws `invalid-options` naming
 * the variable on a bad value. Which engine runs (embedded in `HERALD_DATA_DIR`, or Kafka +
 * PostgreSQL) is read by `engineFromEnv` from `@herald/engine`, not here.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): TicketOrdersConfig {
  return {
    services: parseServices(serviceArgument(argv) ?? env['HERALD_SERVICE'] ?? 'all'),
    port: integer(env, 'PORT', 8080, 0, 65_535),
    host: env['HOST'] || '127.0.0.1',
    chaosRate: fraction(env, 'HERALD_CHAOS_RATE', 0),
    chaosAfterAcceptRate: fraction(env, 'HERALD_CHAOS_AFTER_ACCEPT_RATE', 0),
    relayLeaseMs: integer(env, 'HERALD_RELAY_LEASE_MS', 10_000, 100, 3_600_000),
    paymentLimitCents: integer(env, 'PAYMENT_LIMIT_CENTS', 100_000, 0, Number.MAX_SAFE_INTEGER),
    handlerFailureRate: fraction(env, 'HANDLER_FAILURE_RATE', 0),
    retry: {
      maxAttempts: integer(env, 'HERALD_RETRY_MAX_ATTEMPTS', 5, 1, 1000),
      initialDelayMs: integer(env, 'HERALD_RETRY_INITIAL_DELAY_MS', 1000, 0, 3_600_000),
      maxDelayMs: integer(env, 'HERALD_RETRY_MAX_DELAY_MS', 30_000, 0, 3_600_000),
    },
    shutdownDeadlineMs: integer(env, 'HERALD_SHUTDOWN_DEADLINE_MS', 10_000, 1, 3_600_000),
    idempotencyLeaseMs: integer(env, 'HERALD_IDEMPOTENCY_LEASE_MS', 60_000, 1, 86_400_000),
    readinessGraceMs: integer(env, 'HERALD_READINESS_GRACE_MS', 0, 0, 600_000),
    logLevel: logLevel(env['HERALD_LOG_LEVEL'] ?? 'info'),
    metricsPort: env['METRICS_PORT'] ? integer(env, 'METRICS_PORT', 0, 0, 65_535) : undefined,
    metricsHost: env['METRICS_HOST'] || '127.0.0.1',
    metricsPollIntervalMs: integer(env, 'HERALD_METRICS_POLL_INTERVAL_MS', 10_000, 0, 3_600_000),
    tracing: tracingConfigured(env),
  };
}

function tracingConfigured(env: NodeJS.ProcessEnv): boolean {
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim();
  if (exporter) return exporter !== 'none';
  return Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

function serviceArgument(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--service') return argv[i + 1] ?? '';
    if (arg.startsWith('--service=')) return arg.slice('--service='.length);
  }
  return undefined;
}

function parseServices(value: string): readonly Service[] {
  if (value === 'all') return SERVICES;
  const names = value.split(',').map((s) => s.trim().replace(/-service$/, ''));
  for (const name of names) {
    if (!(SERVICES as readonly string[]).includes(name)) throw invalid(`unknown service "${name}"; use all or one or more of ${SERVICES.join(', ')}`);
  }
  return [...new Set(names)] as Service[];
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return value;
}

function fraction(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw invalid(`${name} must be a number in [0, 1], got "${raw}"`);
  return value;
}

function logLevel(value: string): LogLevel {
  const levels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
  if (!(levels as readonly string[]).includes(value)) throw invalid(`HERALD_LOG_LEVEL must be one of ${levels.join(', ')}, got "${value}"`);
  return value as LogLevel;
}

function invalid(message: string): HeraldError {
  return new HeraldError(ErrorCodes.invalidOptions, message);
}
