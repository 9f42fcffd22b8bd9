import { ErrorCodes, HeraldError, logLevelFromEnv, type LogLevel } from '@herald/core';
import { ENGINE_ENV_VARS } from './config.js';
import { wholeNumber, type EngineEnv } from './env.js';
import { refuseUnknownRuntimeVariables, RUNTIME_ENV_VARS } from './runtimeVariables.js';

/**
 * Readers of a service's own settings from its environment, beside the engine's: an empty value is
 * unset (the fallback), and a bad one throws `invalid-options` naming the variable and the value.
 */
export interface SettingsReader {
  /** The value, trimmed, or `fallback` when unset. */
  text(name: string, fallback: string): string;
  /** A safe integer in `[min, max]`, written in decimal digits (`-` allowed; no `0x`, exponent or fraction). */
  integer(name: string, fallback: number, min: number, max: number): number;
  /** A number in `[0, 1]`, in decimal notation (`0.25`, `.5`, `1`). */
  fraction(name: string, fallback: number): number;
  /** One of `allowed`, exactly. */
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T;
}

/** A {@link SettingsReader} of `env` (`process.env` fits). */
export function settingsFrom(env: EngineEnv): SettingsReader {
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    text: (name, fallback) => raw(name) ?? fallback,
    integer(name, fallback, min, max) {
      const text = raw(name);
      if (text === undefined) return fallback;
      const value = wholeNumber(text);
      if (Number.isNaN(value) || value < min || value > max) throw invalidSetting(`${name} must be an integer in [${min}, ${max}], got "${text}"`);
      return value;
    },
    fraction(name, fallback) {
      const text = raw(name);
      if (text === undefined) return fallback;
      // decimal notation only: `Number()` alone would take `0x1` and `1e-1`
      const value = /^(\d+(\.\d+)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
      if (!(value >= 0 && value <= 1)) throw invalidSetting(`${name} must be a number in [0, 1], got "${text}"`);
      return value;
    },
    oneOf(name, allowed, fallback) {
      const text = raw(name);
      if (text === undefined) return fallback;
      if (!(allowed as readonly string[]).includes(text)) throw invalidSetting(`${name} must be one of ${allowed.join(', ')}, got "${text}"`);
      return text as (typeof allowed)[number];
    },
  };
}

/** Handler retries as `handlerDefaults.retry` of `createApp` takes them. */
export interface RetrySettings {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * The Herald runtime's own variables, which every service of a system reads the same way, in the
 * shapes the options of `createApp`, `createGateway`, `createMetrics` and `metricsServer` take.
 */
export interface RuntimeSettings {
  /** `HERALD_LOG_LEVEL`: debug, info (default), warn, error or silent, in any case. */
  readonly logLevel: LogLevel;
  /** `HERALD_RETRY_MAX_ATTEMPTS`, `HERALD_RETRY_INITIAL_DELAY_MS`, `HERALD_RETRY_MAX_DELAY_MS` (defaults: the service's, else 10, 200, 30 000). */
  readonly retry: RetrySettings;
  /**
   * `createApp`'s `relay`: `HERALD_RELAY_LEASE_MS` (10 000: how soon another relay takes over a
   * dead relay's keys) and the chaos knobs `HERALD_CHAOS_RATE` (publishes dropped on purpose) and
   * `HERALD_CHAOS_AFTER_ACCEPT_RATE` (acks "lost": duplicates), both 0 by default.
   */
  readonly relay: { readonly leaseMs: number; readonly chaos: { readonly failRate: number; readonly failAfterAcceptRate: number } };
  /** `HERALD_SHUTDOWN_DEADLINE_MS` (10 000): how long in-flight requests and events may take at shutdown. */
  readonly shutdownDeadlineMs: number;
  /** `HERALD_IDEMPOTENCY_LEASE_MS` (60 000): after this, a retry may take over a key whose request died with its process. */
  readonly idempotencyLeaseMs: number;
  /** `HERALD_READINESS_GRACE_MS` (0): at shutdown, how long /readyz says 503 before the listener closes. */
  readonly readinessGraceMs: number;
  /** `HERALD_METRICS_POLL_INTERVAL_MS` (10 000; 0 never): how often lag, outbox and dead letters are read for /metrics. */
  readonly metricsPollIntervalMs: number;
  /** `METRICS_PORT` (0: any free port) and `METRICS_HOST` (127.0.0.1): a standalone metrics server; unset port, none. */
  readonly metricsServer: { readonly port: number; readonly host: string } | undefined;
}

/** What a service may default differently in {@link runtimeSettings}. */
export interface RuntimeDefaults {
  readonly retry?: Partial<RetrySettings>;
}

/** Herald's retry defaults for a service, under its own `defaults.retry`. */
const RETRY_DEFAULTS: RetrySettings = { maxAttempts: 10, initialDelayMs: 200, maxDelayMs: 30_000 };

/**
 * Reads the runtime's own variables from `env` (see {@link RuntimeSettings}), with `defaults`
 * over Herald's; a bad value throws `invalid-options` naming the variable, and so does a set
 * `HERALD_*` variable it would ignore (a typo of one of its names, see `RUNTIME_ENV_VARS`). A
 * service adds its own settings beside these with {@link settingsFrom}.
 */
export function runtimeSettings(env: EngineEnv, defaults: RuntimeDefaults = {}): RuntimeSettings {
  refuseUnknownRuntimeVariables(env, Object.values(ENGINE_ENV_VARS));
  const read = settingsFrom(env);
  const metricsPort = env['METRICS_PORT']?.trim() ? read.integer('METRICS_PORT', 0, 0, 65_535) : undefined;
  return {
    logLevel: logLevelFromEnv(env),
    retry: readRetry(read, defaults.retry),
    relay: {
      leaseMs: read.integer('HERALD_RELAY_LEASE_MS', 10_000, 100, 3_600_000),
      chaos: { failRate: read.fraction('HERALD_CHAOS_RATE', 0), failAfterAcceptRate: read.fraction('HERALD_CHAOS_AFTER_ACCEPT_RATE', 0) },
    },
    shutdownDeadlineMs: read.integer('HERALD_SHUTDOWN_DEADLINE_MS', 10_000, 1, 3_600_000),
    idempotencyLeaseMs: read.integer('HERALD_IDEMPOTENCY_LEASE_MS', 60_000, 1, 86_400_000),
    readinessGraceMs: read.integer('HERALD_READINESS_GRACE_MS', 0, 0, 600_000),
    metricsPollIntervalMs: read.integer('HERALD_METRICS_POLL_INTERVAL_MS', 10_000, 0, 3_600_000),
    metricsServer: metricsPort === undefined ? undefined : { port: metricsPort, host: read.text('METRICS_HOST', '127.0.0.1') },
  };
}

/**
 * The retry settings, refusing an initial delay above the maximum here, where the variable that
 * made it so can be named (`createApp` would name only its own option), with where the other
 * value came from.
 */
function readRetry(read: SettingsReader, serviceDefaults: Partial<RetrySettings> = {}): RetrySettings {
  const R = RUNTIME_ENV_VARS;
  const defaults = { ...RETRY_DEFAULTS, ...serviceDefaults };
  const retry = {
    maxAttempts: read.integer(R.retryMaxAttempts, defaults.maxAttempts, 1, 1000),
    initialDelayMs: read.integer(R.retryInitialDelayMs, defaults.initialDelayMs, 0, 3_600_000),
    maxDelayMs: read.integer(R.retryMaxDelayMs, defaults.maxDelayMs, 0, 3_600_000),
  };
  if (retry.initialDelayMs <= retry.maxDelayMs) return retry;
  const said = (field: 'initialDelayMs' | 'maxDelayMs', variable: string, what: string): string => {
    if (read.text(variable, '') !== '') return `${variable} (${retry[field]})`;
    const whose = serviceDefaults[field] !== undefined ? "the service's default" : 'the default';
    return `the ${what} (${retry[field]}, ${whose}; ${variable} sets it)`;
  };
  throw invalidSetting(`${said('initialDelayMs', R.retryInitialDelayMs, 'initial retry delay')} must be at most ${said('maxDelayMs', R.retryMaxDelayMs, 'maximum retry delay')}`);
}

/**
 * The services a process runs, of `all`: `--service a,b` (or `--service=a,b`) on the command line,
 * else `HERALD_SERVICE` (empty is unset), else every one (`all` also names every one). A name may carry a
 * `-service` suffix (`payment-service` is `payment`). Throws `invalid-options` on a name not in
 * `all`, listing the ones there are, and on a set variable the runtime settings would ignore
 * (`HERALD_SERVICES` would otherwise leave every service running).
 */
export function selectServices<S extends string>(all: readonly S[], argv: readonly string[], env: EngineEnv): readonly S[] {
  refuseUnknownRuntimeVariables(env, Object.values(ENGINE_ENV_VARS));
  const fromEnv = env['HERALD_SERVICE']?.trim();
  const value = serviceArgument(argv) ?? (fromEnv ? fromEnv : 'all');
  if (value.trim() === 'all') return all;
  const names = value.split(',').map((name) => name.trim().replace(/-service$/, ''));
  const unknown = names.find((name) => !(all as readonly string[]).includes(name));
  if (unknown !== undefined) throw invalidSetting(`unknown service "${unknown}"; use all or one or more of ${all.join(', ')}`);
  return [...new Set(names)] as S[];
}

function serviceArgument(argv: readonly string[]): string | undefined {
  const at = argv.findIndex((arg) => arg === '--service' || arg.startsWith('--service='));
  if (at < 0) return undefined;
  const arg = argv[at]!;
  return arg === '--service' ? (argv[at + 1] ?? '') : arg.slice('--service='.length);
}

/** The `invalid-options` error of a bad setting. */
export function invalidSetting(message: string): HeraldError {
  return new HeraldError(ErrorCodes.invalidOptions, message);
}
