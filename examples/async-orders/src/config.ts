import { runtimeSettings, selectServices, settingsFrom, type RuntimeSettings } from '@herald/engine';

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
  /** `HANDLER_FAILURE_RATE`: fraction of handler attempts failing transiently after their writes. Default 0. */
  readonly handlerFailureRate: number;
  /**
   * Herald's own variables, read by `runtimeSettings` with its defaults but for the retries':
   * `HERALD_RETRY_MAX_ATTEMPTS` (10), `HERALD_RETRY_INITIAL_DELAY_MS` (500),
   * `HERALD_RETRY_MAX_DELAY_MS` (30 000). `METRICS_PORT` starts a standalone metrics server (any
   * process); the HTTP front serves `/metrics` anyway.
   */
  readonly runtime: RuntimeSettings;
}

/**
 * Reads the example's configuration from `env` and the command line with `settingsFrom`,
 * `runtimeSettings` and `selectServices` from `@herald/engine`: values are trimmed, an empty one is
 * unset, and a bad one throws `invalid-options` naming the variable. The engine (embedded in
 * `HERALD_DATA_DIR`, or Kafka + PostgreSQL) is chosen by `engineFromEnv` from `@herald/engine`, not here.
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
    handlerFailureRate: read.fraction('HANDLER_FAILURE_RATE', 0),
    runtime: runtimeSettings(env, { retry: { maxAttempts: 10, initialDelayMs: 500, maxDelayMs: 30_000 } }),
  };
}
