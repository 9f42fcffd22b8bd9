import { runtimeSettings, selectServices, settingsFrom, type RuntimeSettings } from '@herald/engine';
import { DEFAULT_STEP_DEADLINE_MS } from './saga.js';

/** The longest step deadline `ORDER_STEP_DEADLINE_MS` takes: 7 days. */
const MAX_STEP_DEADLINE_MS = 7 * 86_400_000;

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
  /** `PAYMENT_LIMIT_CENTS`: a price above it is declined and the order cancelled. Default 100 000. */
  readonly paymentLimitCents: number;
  /** `HANDLER_FAILURE_RATE`: fraction of handler attempts failing transiently after their writes. Default 0. */
  readonly handlerFailureRate: number;
  /**
   * `ORDER_STEP_DEADLINE_MS`: how long each saga step (payment, then ticket) may take before the
   * order ends FAILED, its payment refunded and its ticket void. Default 300 000 (5 minutes); at
   * most 7 days, well within the saga store's retention (30 days).
   */
  readonly stepDeadlineMs: number;
  /**
   * Herald's own variables, read by `runtimeSettings` with its defaults but for the retries':
   * `HERALD_RETRY_MAX_ATTEMPTS` (5), `HERALD_RETRY_INITIAL_DELAY_MS` (1 000),
   * `HERALD_RETRY_MAX_DELAY_MS` (30 000). The relay's `HERALD_CHAOS_RATE` is 0 by default (seed 003
   * uses 0.2). `METRICS_PORT`, when set, starts a standalone metrics server in any process (the api
   * serves `/metrics` on `PORT` anyway); unset by default, so several processes on one host never
   * fight over one port.
   */
  readonly runtime: RuntimeSettings;
  /**
   * Whether to export traces: when `OTEL_TRACES_EXPORTER` names an exporter other than `none`, or
   * an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
   * The exporter itself is chosen by those variables (see `@herald/tracing`'s `startTracing`).
   */
  readonly tracing: boolean;
}

/**
 * Reads the example's own configuration from `env` and the command line (`--service api`, `--service
 * payment,ticket`, `--service all`; `HERALD_SERVICE` works too) with `settingsFrom`,
 * `runtimeSettings` and `selectServices` from `@herald/engine`: values are trimmed, an empty one is
 * unset, and a bad one throws `invalid-options` naming the variable. Which engine runs (embedded in
 * `HERALD_DATA_DIR`, or Kafka + PostgreSQL) is read by `engineFromEnv` from `@herald/engine`, not here.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): TicketOrdersConfig {
  const read = settingsFrom(env);
  return {
    services: selectServices(SERVICES, argv, env),
    port: read.integer('PORT', 8080, 0, 65_535),
    host: read.text('HOST', '127.0.0.1'),
    paymentLimitCents: read.integer('PAYMENT_LIMIT_CENTS', 100_000, 0, Number.MAX_SAFE_INTEGER),
    handlerFailureRate: read.fraction('HANDLER_FAILURE_RATE', 0),
    stepDeadlineMs: read.integer('ORDER_STEP_DEADLINE_MS', DEFAULT_STEP_DEADLINE_MS, 1, MAX_STEP_DEADLINE_MS),
    runtime: runtimeSettings(env, { retry: { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 30_000 } }),
    tracing: tracingConfigured(env),
  };
}

function tracingConfigured(env: NodeJS.ProcessEnv): boolean {
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim();
  if (exporter) return exporter !== 'none';
  return Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}
