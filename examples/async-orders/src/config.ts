import type { LogLevel } from '@herald/core';
import { selectServices, settingsFrom } from '@herald/engine';

/**
 * Seed 004's services; `all` runs every one in one process. The HTTP front is `gateway` (orders,
 * billing, requests, notifications) and `auth` (registration, login, the JWKS); a process running
 * either listens on `PORT`. `notification` asks for profiles and requests notifications, `sender`
 * delivers them.
 */
export const SERVICES = ['gateway', 'auth', 'order', 'billing', 'user', 'notification', 'sender'] as const;
/** One of {@link SERVICES}. */
export type Service = (typeof SERVICES)[number];

/** Everything the example reads from its environment, with defaults filled in. */
export interface AsyncOrdersConfig {
  /** Which services this process runs (`--service a,b`, or `HERALD_SERVICE`; default all; `user-service` is `user`). */
  readonly services: readonly Service[];
  /** `PORT`, default 8080 (0 picks a free port). */
  readonly port: number;
  /** `HOST`, default 127.0.0.1 (0.0.0.0 in a container). */
  readonly host: string;
  /** `STARTING_BALANCE_CENTS`: a new account's balance. Default 10 000. */
  readonly startingBalanceCents: number;
  /** `ORDER_WAIT_MS`: how long POST /orders and POST /billing/deposit hold the request before 202. Default 5 000. */
  readonly orderWaitMs: number;
  /** `PAYMENT_TIMEOUT_MS`: the payment step's deadline; past it the order is PAYMENT_TIMEOUT. Default 30 000. */
  readonly paymentTimeoutMs: number;
  /** `PROFILE_TIMEOUT_MS`: how long the notification service waits for a profile before retrying. Default 5 000. */
  readonly profileTimeoutMs: number;
  /** `TOKEN_TTL_SECONDS`: lifetime of an access token. Default 3 600. */
  readonly tokenTtlSeconds: number;
  /** `HERALD_INSTANCE_ID`: this replica's id (its reply and wait groups); unique among running replicas. Default: host name and pid. */
  readonly instanceId: string;
  /** `HERALD_CHAOS_RATE`: fraction of relay publishes dropped on purpose. Default 0. */
  readonly chaosRate: number;
  /** `HERALD_CHAOS_AFTER_ACCEPT_RATE`: fraction of relay publishes whose ack is "lost" (duplicates). Default 0. */
  readonly chaosAfterAcceptRate: number;
  /** `HANDLER_FAILURE_RATE`: fraction of handler attempts failing transiently after their writes. Default 0. */
  readonly handlerFailureRate: number;
  /** `HERALD_RELAY_LEASE_MS`: how soon another relay takes over a dead relay's keys. Default 10 000. */
  readonly relayLeaseMs: number;
  /** `HERALD_RETRY_MAX_ATTEMPTS` (10), `HERALD_RETRY_INITIAL_DELAY_MS` (500), `HERALD_RETRY_MAX_DELAY_MS` (30 000). */
  readonly retry: { readonly maxAttempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** `HERALD_SHUTDOWN_DEADLINE_MS`: how long in-flight requests and events may take at shutdown. Default 10 000. */
  readonly shutdownDeadlineMs: number;
  /** `HERALD_IDEMPOTENCY_LEASE_MS`: after this, a retry may take over a key whose request died with its process. Default 60 000. */
  readonly idempotencyLeaseMs: number;
  /** `HERALD_LOG_LEVEL`, default `info`. */
  readonly logLevel: LogLevel;
  /** `METRICS_PORT`: a standalone metrics server (any process); the HTTP front serves `/metrics` anyway. */
  readonly metricsPort: number | undefined;
  /** `METRICS_HOST`, default 127.0.0.1. */
  readonly metricsHost: string;
}

/**
 * Reads the example's configuration from `env` and the command line with `settingsFrom` and
 * `selectServices` from `@herald/engine`: values are trimmed, an empty one is unset, and a bad one
 * throws `invalid-options` naming the variable. The engine (embedded in `HERALD_DATA_DIR`, or
 * Kafka + PostgreSQL) is chosen by `engineFromEnv` from `@herald/engine`, not here.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): AsyncOrdersConfig {
  const read = settingsFrom(env);
  return {
    services: selectServices(SERVICES, argv, env),
    port: read.integer('PORT', 8080, 0, 65_535),
    host: read.text('HOST', '127.0.0.1'),
    startingBalanceCents: read.integer('STARTING_BALANCE_CENTS', 10_000, 0, Number.MAX_SAFE_INTEGER),
    orderWaitMs: read.integer('ORDER_WAIT_MS', 5_000, 1, 600_000),
    paymentTimeoutMs: read.integer('PAYMENT_TIMEOUT_MS', 30_000, 1, 86_400_000),
    profileTimeoutMs: read.integer('PROFILE_TIMEOUT_MS', 5_000, 1, 600_000),
    tokenTtlSeconds: read.integer('TOKEN_TTL_SECONDS', 3_600, 1, 31_536_000),
    instanceId: read.text('HERALD_INSTANCE_ID', `${process.env['HOSTNAME'] || 'local'}-${process.pid}`),
    chaosRate: read.fraction('HERALD_CHAOS_RATE', 0),
    chaosAfterAcceptRate: read.fraction('HERALD_CHAOS_AFTER_ACCEPT_RATE', 0),
    handlerFailureRate: read.fraction('HANDLER_FAILURE_RATE', 0),
    relayLeaseMs: read.integer('HERALD_RELAY_LEASE_MS', 10_000, 100, 3_600_000),
    retry: {
      maxAttempts: read.integer('HERALD_RETRY_MAX_ATTEMPTS', 10, 1, 1000),
      initialDelayMs: read.integer('HERALD_RETRY_INITIAL_DELAY_MS', 500, 0, 3_600_000),
      maxDelayMs: read.integer('HERALD_RETRY_MAX_DELAY_MS', 30_000, 0, 3_600_000),
    },
    shutdownDeadlineMs: read.integer('HERALD_SHUTDOWN_DEADLINE_MS', 10_000, 1, 3_600_000),
    idempotencyLeaseMs: read.integer('HERALD_IDEMPOTENCY_LEASE_MS', 60_000, 1, 86_400_000),
    logLevel: read.oneOf<LogLevel>('HERALD_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'], 'info'),
    metricsPort: env['METRICS_PORT']?.trim() ? read.integer('METRICS_PORT', 0, 0, 65_535) : undefined,
    metricsHost: read.text('METRICS_HOST', '127.0.0.1'),
  };
}
