import { invalidSetting, runtimeSettings, selectServices, settingsFrom, type RuntimeSettings, type SettingsReader } from '@herald/engine';

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
  /** Whether `ANALYTICS_STORE` chose it (else it is the default, which defers to the store a data directory already holds). */
  readonly analyticsStoreChosen: boolean;
  /**
   * `ANALYTICS_RETENTION_MS`: how long the analytics store keeps raw events, metric samples and late
   * events, on event time. Default 7 days, Kafka's default `retention.ms`: the log holds the raw
   * events as long, so nothing older could be replayed anyway. At least an hour more than
   * `STREAM_GRACE_MS`: a minute is stored once its grace is over, and must stay a while after.
   */
  readonly analyticsRetentionMs: number;
  /**
   * Herald's own variables, read by `runtimeSettings` with its defaults but for the retries':
   * `HERALD_RETRY_MAX_ATTEMPTS` (5), `HERALD_RETRY_INITIAL_DELAY_MS` (200),
   * `HERALD_RETRY_MAX_DELAY_MS` (10 000). The pipeline uses only the retries,
   * `shutdownDeadlineMs`, `metricsPollIntervalMs` and `logLevel`: it runs no relay, no idempotent
   * routes, no readiness grace and no standalone metrics server (its HTTP listeners serve `/metrics`).
   */
  readonly runtime: RuntimeSettings;
}

/**
 * Reads the example's configuration from `env` and the command line (`--service producer`,
 * `--service consumer,analytics`, `--service all`; `HERALD_SERVICE` works too) with
 * `settingsFrom`, `runtimeSettings` and `selectServices` from `@herald/engine`: values are
 * trimmed, an empty one is unset, and a bad one throws `invalid-options` naming the variable. The
 * engine (embedded in `HERALD_DATA_DIR`, or Kafka + PostgreSQL) is chosen by `engineFromEnv` from
 * `@herald/engine`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): PipelineConfig {
  const read = settingsFrom(env);
  const port = (name: string, fallback: number) => read.integer(name, fallback, 0, 65_535);
  const services = selectServices(SERVICES, argv, env);
  const graceMs = read.integer('STREAM_GRACE_MS', 10_000, 0, 86_400_000);
  return {
    services,
    host: read.text('HOST', '127.0.0.1'),
    ports: {
      producerHttp: port('PRODUCER_HTTP_PORT', 8081),
      producerGrpc: port('PRODUCER_GRPC_PORT', 50051),
      consumerHttp: port('CONSUMER_HTTP_PORT', 8082),
      analyticsHttp: port('ANALYTICS_HTTP_PORT', 8083),
      analyticsGrpc: port('ANALYTICS_GRPC_PORT', 50053),
    },
    graceMs,
    idleTimeoutMs: read.integer('STREAM_IDLE_TIMEOUT_MS', 30_000, 1, 86_400_000),
    analyticsStore: storeKind(env, services),
    analyticsStoreChosen: Boolean(env['ANALYTICS_STORE']),
    analyticsRetentionMs: retentionMs(read, graceMs),
    runtime: runtimeSettings(env, { retry: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 10_000 } }),
  };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function retentionMs(read: SettingsReader, graceMs: number): number {
  const retention = read.integer('ANALYTICS_RETENTION_MS', 7 * DAY_MS, HOUR_MS, 36_500 * DAY_MS);
  if (retention < graceMs + HOUR_MS) {
    throw invalidSetting(`ANALYTICS_RETENTION_MS (${retention}) must be at least an hour more than STREAM_GRACE_MS (${graceMs}): a minute is stored only once its grace is over`);
  }
  return retention;
}

function storeKind(env: NodeJS.ProcessEnv, services: readonly Service[]): AnalyticsStoreKind {
  const raw = env['ANALYTICS_STORE'];
  if (raw) {
    if (raw !== 'duckdb' && raw !== 'sqlite' && raw !== 'postgres') throw invalidSetting(`ANALYTICS_STORE must be duckdb, sqlite or postgres, got "${raw}"`);
    if (raw === 'postgres' && !env['DATABASE_URL']) throw invalidSetting('ANALYTICS_STORE=postgres needs DATABASE_URL');
    return raw;
  }
  if (env['DATABASE_URL']) return 'postgres';
  return services.includes('consumer') && services.includes('analytics') ? 'duckdb' : 'sqlite';
}
