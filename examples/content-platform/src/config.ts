import type { LogLevel } from '@herald/core';
import { selectServices, settingsFrom } from '@herald/engine';

/**
 * Seed 002's services; `all` runs every one in one process. `api` is the HTTP front of the
 * publishing services (auth, artist, content, comment) and of the query sides; the others consume.
 */
export const SERVICES = ['api', 'content', 'comment', 'search', 'notification'] as const;
/** One of {@link SERVICES}. */
export type Service = (typeof SERVICES)[number];

/** Everything the example reads from its environment, with defaults filled in. */
export interface ContentPlatformConfig {
  /** Which services this process runs (`--service a,b`, or `HERALD_SERVICE`; default all). */
  readonly services: readonly Service[];
  /** `PORT`, default 8080 (0 picks a free port). */
  readonly port: number;
  /** `HOST`, default 127.0.0.1 (0.0.0.0 in a container). */
  readonly host: string;
  /** `SEARCH_INDEX_GENERATION`: raise it by one to rebuild the search index from the log. Default 1. */
  readonly searchIndexGeneration: number;
  /** `HERALD_CHAOS_RATE`: fraction of relay publishes dropped on purpose. Default 0. */
  readonly chaosRate: number;
  /** `HERALD_CHAOS_AFTER_ACCEPT_RATE`: fraction of relay publishes whose ack is "lost" (duplicates). Default 0. */
  readonly chaosAfterAcceptRate: number;
  /** `HERALD_RELAY_LEASE_MS`: how soon another relay takes over a dead relay's keys. Default 10 000. */
  readonly relayLeaseMs: number;
  /** `HERALD_RETRY_MAX_ATTEMPTS` (10), `HERALD_RETRY_INITIAL_DELAY_MS` (200), `HERALD_RETRY_MAX_DELAY_MS` (30 000). */
  readonly retry: { readonly maxAttempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** `HERALD_SHUTDOWN_DEADLINE_MS`: how long in-flight requests and events may take at shutdown. Default 10 000. */
  readonly shutdownDeadlineMs: number;
  /** `HERALD_IDEMPOTENCY_LEASE_MS`: after this, a retry may take over a key whose request died with its process. Default 60 000. */
  readonly idempotencyLeaseMs: number;
  /** `HERALD_LOG_LEVEL`, default `info`. */
  readonly logLevel: LogLevel;
  /** `METRICS_PORT`: a standalone metrics server (any process); the api serves `/metrics` anyway. */
  readonly metricsPort: number | undefined;
  /** `METRICS_HOST`, default 127.0.0.1. */
  readonly metricsHost: string;
}

/**
 * Reads the example's configuration from `env` and the command line. Throws `invalid-options`
 * naming the variable on a bad value. The engine (embedded in `HERALD_DATA_DIR`, or Kafka +
 * PostgreSQL) is chosen by `engineFromEnv` from `@herald/engine`, not here.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): ContentPlatformConfig {
  const read = settingsFrom(env);
  return {
    services: selectServices(SERVICES, argv, env),
    port: read.integer('PORT', 8080, 0, 65_535),
    host: read.text('HOST', '127.0.0.1'),
    searchIndexGeneration: read.integer('SEARCH_INDEX_GENERATION', 1, 1, 1_000_000),
    chaosRate: read.fraction('HERALD_CHAOS_RATE', 0),
    chaosAfterAcceptRate: read.fraction('HERALD_CHAOS_AFTER_ACCEPT_RATE', 0),
    relayLeaseMs: read.integer('HERALD_RELAY_LEASE_MS', 10_000, 100, 3_600_000),
    retry: {
      maxAttempts: read.integer('HERALD_RETRY_MAX_ATTEMPTS', 10, 1, 1000),
      initialDelayMs: read.integer('HERALD_RETRY_INITIAL_DELAY_MS', 200, 0, 3_600_000),
      maxDelayMs: read.integer('HERALD_RETRY_MAX_DELAY_MS', 30_000, 0, 3_600_000),
    },
    shutdownDeadlineMs: read.integer('HERALD_SHUTDOWN_DEADLINE_MS', 10_000, 1, 3_600_000),
    idempotencyLeaseMs: read.integer('HERALD_IDEMPOTENCY_LEASE_MS', 60_000, 1, 86_400_000),
    logLevel: read.oneOf('HERALD_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    metricsPort: env['METRICS_PORT']?.trim() ? read.integer('METRICS_PORT', 0, 0, 65_535) : undefined,
    metricsHost: read.text('METRICS_HOST', '127.0.0.1'),
  };
}
