import { runtimeSettings, selectServices, settingsFrom, type RuntimeSettings } from '@herald/engine';

/**
 * Seed 000's services; `all` runs every one in one process. `api` is the HTTP front; `realtime`
 * is the seed's Flink job (surge pricing windows), `fraud` its fraud-group (payments and bookings)
 * and the GPS speed check (location-fraud-group).
 */
export const SERVICES = ['api', 'booking', 'pricing', 'driver', 'payment', 'notification', 'realtime', 'fraud'] as const;
/** One of {@link SERVICES}. */
export type Service = (typeof SERVICES)[number];

/** Everything the example reads from its environment, with defaults filled in. */
export interface RideHailingConfig {
  /** Which services this process runs (`--service a,b`, or `HERALD_SERVICE`; default all). */
  readonly services: readonly Service[];
  /** `PORT` (8080; 0 picks a free port) and `HOST` (127.0.0.1; 0.0.0.0 in a container) of the api. */
  readonly port: number;
  readonly host: string;
  /** `BASE_FARE_CENTS` (300) and `PER_KM_CENTS` (120): a ride's price before surge. */
  readonly pricing: { readonly baseFareCents: number; readonly perKmCents: number };
  /** `SURGE_WINDOW_MS` (300 000, the seed's 5 minutes), `SURGE_GRACE_MS` (10 000), `SURGE_THRESHOLD` (20 bookings), `STREAM_IDLE_TIMEOUT_MS` (30 000). */
  readonly surge: { readonly windowMs: number; readonly graceMs: number; readonly threshold: number; readonly idleTimeoutMs: number };
  /**
   * The fraud service's rules: `FRAUD_WINDOW_MS` (600 000: 10 minutes of event time),
   * `FRAUD_GRACE_MS` (3 600 000: how far behind a rider's newest event one is still counted),
   * `FRAUD_FAILED_PAYMENTS` (3) and `FRAUD_BOOKINGS` (5) of one rider in one window raise an
   * alert; `FRAUD_MAX_SPEED_KMH` (250): faster between two GPS points raises one.
   */
  readonly fraud: { readonly windowMs: number; readonly graceMs: number; readonly failedPayments: number; readonly bookings: number; readonly maxSpeedKmh: number };
  /** Herald's own variables (`HERALD_RETRY_*`, the relay's lease and chaos, deadlines, log level, `METRICS_PORT`…): see `runtimeSettings`. */
  readonly runtime: RuntimeSettings;
}

/**
 * Reads the example's configuration from `env` and the command line; throws `invalid-options`
 * naming the variable on a bad value. The engine is chosen by `engineFromEnv` from `@herald/engine`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): RideHailingConfig {
  const read = settingsFrom(env);
  return {
    services: selectServices(SERVICES, argv, env),
    port: read.integer('PORT', 8080, 0, 65_535),
    host: read.text('HOST', '127.0.0.1'),
    pricing: { baseFareCents: read.integer('BASE_FARE_CENTS', 300, 0, 1_000_000), perKmCents: read.integer('PER_KM_CENTS', 120, 0, 1_000_000) },
    surge: {
      windowMs: read.integer('SURGE_WINDOW_MS', 300_000, 1_000, 86_400_000),
      graceMs: read.integer('SURGE_GRACE_MS', 10_000, 0, 3_600_000),
      threshold: read.integer('SURGE_THRESHOLD', 20, 1, 1_000_000),
      idleTimeoutMs: read.integer('STREAM_IDLE_TIMEOUT_MS', 30_000, 100, 86_400_000),
    },
    fraud: {
      windowMs: read.integer('FRAUD_WINDOW_MS', 600_000, 1_000, 86_400_000),
      graceMs: read.integer('FRAUD_GRACE_MS', 3_600_000, 0, 7 * 86_400_000),
      failedPayments: read.integer('FRAUD_FAILED_PAYMENTS', 3, 1, 10_000),
      bookings: read.integer('FRAUD_BOOKINGS', 5, 1, 10_000),
      maxSpeedKmh: read.integer('FRAUD_MAX_SPEED_KMH', 250, 1, 100_000),
    },
    runtime: runtimeSettings(env),
  };
}
