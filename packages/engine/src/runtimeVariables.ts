import { ErrorCodes, HeraldError } from '@herald/core';
import type { EngineEnv } from './env.js';
import { refuseUnknownVariables, type KnownVariables } from './unknownVariables.js';

/**
 * Names of every variable the Herald runtime settings read (`runtimeSettings`, `selectServices`),
 * in one place (also documented in the package README). Engine selection's are `ENGINE_ENV_VARS`.
 */
export const RUNTIME_ENV_VARS = {
  /** debug, info (default), warn, error or silent, in any case. */
  logLevel: 'HERALD_LOG_LEVEL',
  /** Handler attempts in all before a dead letter. */
  retryMaxAttempts: 'HERALD_RETRY_MAX_ATTEMPTS',
  /** First retry delay, ms, at most the maximum. */
  retryInitialDelayMs: 'HERALD_RETRY_INITIAL_DELAY_MS',
  /** Longest retry delay, ms. */
  retryMaxDelayMs: 'HERALD_RETRY_MAX_DELAY_MS',
  /** How soon another relay takes over a dead relay's keys, ms. */
  relayLeaseMs: 'HERALD_RELAY_LEASE_MS',
  /** Fraction of relay publishes dropped on purpose. */
  chaosRate: 'HERALD_CHAOS_RATE',
  /** Fraction of relay acks "lost" on purpose (duplicates). */
  chaosAfterAcceptRate: 'HERALD_CHAOS_AFTER_ACCEPT_RATE',
  /** How long in-flight work may take at shutdown, ms. */
  shutdownDeadlineMs: 'HERALD_SHUTDOWN_DEADLINE_MS',
  /** After this, a retry may take over an idempotency key whose request died, ms. */
  idempotencyLeaseMs: 'HERALD_IDEMPOTENCY_LEASE_MS',
  /** At shutdown, how long /readyz answers 503 before the listener closes, ms. */
  readinessGraceMs: 'HERALD_READINESS_GRACE_MS',
  /** How often the read side is polled for /metrics, ms (0 never). */
  metricsPollIntervalMs: 'HERALD_METRICS_POLL_INTERVAL_MS',
  /** Port of a standalone metrics server (unset: none). */
  metricsPort: 'METRICS_PORT',
  /** Host of the standalone metrics server. */
  metricsHost: 'METRICS_HOST',
  /** The services a process runs (`selectServices`), after `--service`. */
  service: 'HERALD_SERVICE',
} as const;

/**
 * The runtime's own namespaces: every `HERALD_RETRY_*`, `HERALD_CHAOS_*`, `HERALD_RELAY_*`,
 * `HERALD_SHUTDOWN_*`, `HERALD_IDEMPOTENCY_*` and `HERALD_READINESS_*` name is one of its settings
 * (a guessed `HERALD_RETRY_JITTER` is refused, listing the retry variables there are). Other
 * `HERALD_*` names are refused only as a typo of a known one: `HERALD_LOG_PRETTY`, `HERALD_METRICS_*`
 * and `HERALD_INSTANCE_ID` are other components' or a service's own.
 */
const RUNTIME: KnownVariables = {
  known: Object.values(RUNTIME_ENV_VARS),
  namespace: /^HERALD_(RETRY|CHAOS|RELAY|SHUTDOWN|IDEMPOTENCY|READINESS)_/,
  reader: 'the Herald runtime settings',
  invalid: (message) => new HeraldError(ErrorCodes.invalidOptions, message),
};

/**
 * Refuses with `invalid-options` a set variable the runtime settings would ignore (see
 * {@link RUNTIME}), naming the closest known one: `HERALD_SERVICES=api` would otherwise run every
 * service, `HERALD_SHUTDOWN_DEADLINE=30000` leave the deadline at its default. `engineVariables`
 * are engine selection's, which checks its own.
 */
export function refuseUnknownRuntimeVariables(env: EngineEnv, engineVariables: readonly string[]): void {
  refuseUnknownVariables(env, { ...RUNTIME, others: engineVariables });
}
