import { ErrorCodes, HeraldError } from '@herald/core';
import type { LogLevel } from '@herald/core';

/** Seed 001's three services; `all` runs them in one process. */
export const SERVICES = ['producer', 'consumer', 'analytics'] as const;
/** One of {@link SERVICES}. */
export type Service = (typeof SERVICES)[number];

/** Where the analytics store keeps raw events, metric samples and late events. */
export type AnalyticsStoreKind = 'duckdb' | 'sqlite' | 'postgres';

/** Everything the example reads from its environment, with defaults filled in. */
export interface PipelineConfig {
  /** Which services this process runs. */
  readonly services: readonly Service[];
  /** `HOST`, default 127.0.0.1 (use 0.0.0.0 in a container): every listener's interface. */
  readonly host: string;
  /** `PRODUCER_HTTP_PORT` (8081), `PRODUCER_GRPC_PORT` (50051), `CONSUMER_HTTP_PORT` (8082), `ANALYTICS_HTTP_PORT` (8083), `ANALYTICS_GRPC_PORT` (50053); 0 picks a free port. */
  readonly ports: { readonly producerHttp: number; readonly producerGrpc: number; readonly consumerHttp: number; readonly analyticsHttp: number; readonly analyticsGrpc: number };
  /** `STREAM_GRACE_MS`: how long after its end (in stream time) a minute still takes out-of-order events. Default 10 000. */
  readonly graceMs: number;
  /** `STREAM_IDLE_TIMEOUT_MS`: after this much wall-clock time without events, a partition's stream time moves on by itself. Default 30 000. */
  readonly idleTimeoutMs: number;
  /**
   * `ANALYTICS_STORE`: `postgres` when `DATABASE_URL` is set, else `duckdb` when one process runs
   * both the consumer and the analytics service, else `sqlite` (a DuckDB file is held by one
   * process; separate processes share a SQLite file). Its file is in `HERALD_DATA_DIR`.
   */
  readonly analyticsStore: AnalyticsStoreKind;
  /** `HERALD_RETRY_MAX_ATTEMPTS` (5), `HERALD_RETRY_INITIAL_DELAY_MS` (200), `HERALD_RETRY_MAX_DELAY_MS` (10 000). */
  readonly retry: { readonly maxAttempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** `HERALD_SHUTDOWN_DEADLINE_MS`: how long in-flight requests and events may take at shutdown. Default 10 000. */
  readonly shutdownDeadlineMs: number;
  /** `HERALD_METRICS_POLL_INTERVAL_MS`: how often lag and dead letters are read for /metrics. Default 10 000; 0 never. */
  readonly metricsPollIntervalMs: number;
  /** `HERALD_LOG_LEVEL`, default `info`. */
  readonly logLevel: LogLevel;
}

/**
 * Reads the example's configuration from `env` and the command line (`--service producer`,
 * `--service consumer,analytics`, `--service all`; `HERALD_SERVICE` works too). Throws
 * `invalid-options` naming the variable on a bad value. The engine (embedded in
 * `HERALD_DATA_DIR`, or Kafka + PostgreSQL) is chosen by `engineFromEnv` from `@herald/engine`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): PipelineConfig {
  const services = parseServices(serviceArgument(argv) ?? env['HERALD_SERVICE'] ?? 'all');
  return {
    services,
    host: env['HOST'] || '127.0.0.1',
    ports: {
      producerHttp: port(env, 'PRODUCER_HTTP_PORT', 8081),
      producerGrpc: port(env, 'PRODUCER_GRPC_PORT', 50051),
      consumerHttp: port(env, 'CONSUMER_HTTP_PORT', 8082),
      analyticsHttp: port(env, 'ANALYTICS_HTTP_PORT', 8083),
      analyticsGrpc: port(env, 'ANALYTICS_GRPC_PORT', 50053),
    },
    graceMs: integer(env, 'STREAM_GRACE_MS', 10_000, 0, 86_400_000),
    idleTimeoutMs: integer(env, 'STREAM_IDLE_TIMEOUT_MS', 30_000, 1, 86_400_000),
    analyticsStore: storeKind(env, services),
    retry: {
      maxAttempts: integer(env, 'HERALD_RETRY_MAX_ATTEMPTS', 5, 1, 1000),
      initialDelayMs: integer(env, 'HERALD_RETRY_INITIAL_DELAY_MS', 200, 0, 3_600_000),
      maxDelayMs: integer(env, 'HERALD_RETRY_MAX_DELAY_MS', 10_000, 0, 3_600_000),
    },
    shutdownDeadlineMs: integer(env, 'HERALD_SHUTDOWN_DEADLINE_MS', 10_000, 1, 3_600_000),
    metricsPollIntervalMs: integer(env, 'HERALD_METRICS_POLL_INTERVAL_MS', 10_000, 0, 3_600_000),
    logLevel: logLevel(env['HERALD_LOG_LEVEL'] ?? 'info'),
  };
}

function storeKind(env: NodeJS.ProcessEnv, services: readonly Service[]): AnalyticsStoreKind {
  const raw = env['ANALYTICS_STORE'];
  if (raw) {
    if (raw !== 'duckdb' && raw !== 'sqlite' && raw !== 'postgres') throw invalid(`ANALYTICS_STORE must be duckdb, sqlite or postgres, got "${raw}"`);
    if (raw === 'postgres' && !env['DATABASE_URL']) throw invalid('ANALYTICS_STORE=postgres needs DATABASE_URL');
    return raw;
  }
  if (env['DATABASE_URL']) return 'postgres';
  return services.includes('consumer') && services.includes('analytics') ? 'duckdb' : 'sqlite';
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

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return integer(env, name, fallback, 0, 65_535);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
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
