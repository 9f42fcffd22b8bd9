import { CoreErrors, HeraldError, MAX_TIMER_MS } from '@herald/core';
import type { Broker, Clock, DeadLetterStore, EventDefinition, GroupSubscription, Instrumentation, Logger } from '@herald/core';
import { Registry } from 'prom-client';

/**
 * What the metrics need from a Herald app (an `App` from `createApp` has all of it): the facts it
 * emits, and the broker and stores whose read side is polled.
 */
export interface MetricsApp {
  readonly instrumentation: Instrumentation;
  readonly broker: Broker;
  readonly stores: { readonly outbox: object; readonly deadLetters: DeadLetterStore; readonly sagas?: object };
  readonly clock: Clock;
  readonly logger: Logger;
  /** Their topics are reported (outbox pending 0) before anything was published. */
  readonly events: readonly EventDefinition[];
  /**
   * The consumer groups it has handlers in, with their topics and start (`App.subscriptions`): only
   * their lag is reported, on every partition of their topics whether or not a member in this
   * process took it, never the other groups the broker knows. Read at each poll, so handlers
   * registered after `createMetrics` count.
   */
  readonly subscriptions: readonly GroupSubscription[];
}

/** Options of {@link createMetrics}; every field but `app` has a default (see METRICS_DEFAULTS). */
export interface MetricsOptions {
  readonly app: MetricsApp;
  /**
   * Where Herald's metrics are registered; add your own metrics to it too. Default: a registry of
   * this app's own (never prom-client's global one), so apps and tests never see each other's counts.
   * It must serve the Prometheus text format (prom-client's default), not OpenMetrics.
   */
  readonly registry?: Registry;
  /** How often the read side (lag, outbox backlog, dead letters, sagas in flight) is read; 0 never reads it. Default 10 000. */
  readonly pollIntervalMs?: number;
  /**
   * How long one read of a source (lag, outbox, dead letters, sagas) may take before it counts as failed
   * (`herald_metrics_read_errors_total`, the gauges keeping their last values): a query waiting on
   * a lock, or a connection cut without a reset, must not freeze every gauge and the app's
   * readiness. The read goes on: the next poll waits for it again rather than starting another,
   * until it has missed 3 deadlines in a row; then it is given up on and the next poll starts a new
   * read (while a read given up on earlier still runs, none more is: a stuck source holds two
   * connections at most). A read that ends late still counts: its answer is shown (unless a newer
   * read's already was), and the error of the last read of the source that failed, late or not, is
   * the `cause` of the source's next `timeout`s, so a client's own error (a broker's connection
   * timeout, a little longer than this deadline) is logged. Default 30 000; at most `MAX_TIMER_MS`.
   */
  readonly readTimeoutMs?: number;
  /**
   * Whether scrapes include the process metrics (CPU, memory, event loop lag, GC, handles: prom-client's
   * default metrics). Those `registry` already has (it runs `collectDefaultMetrics` itself) are
   * never added twice. Default true.
   */
  readonly processMetrics?: boolean;
}

/** The options with every default filled in. */
export interface ResolvedMetricsOptions {
  readonly app: MetricsApp;
  readonly registry: Registry;
  readonly pollIntervalMs: number;
  readonly readTimeoutMs: number;
  readonly processMetrics: boolean;
}

/** The metrics' defaults, in one place. */
export const METRICS_DEFAULTS = {
  pollIntervalMs: 10_000,
  readTimeoutMs: 30_000,
  processMetrics: true,
} as const;

/** Fills in defaults and validates; throws `invalid-options` naming the option. */
export function resolveMetricsOptions(options: MetricsOptions): ResolvedMetricsOptions {
  const app = options?.app;
  if (!app || typeof app.instrumentation?.on !== 'function' || !app.broker || !app.stores || !Array.isArray(app.subscriptions)) {
    throw invalid('metrics: `app` must be a Herald app (instrumentation, broker, stores and subscriptions)');
  }
  if (options.registry !== undefined && !(options.registry instanceof Registry)) {
    throw invalid("metrics: `registry` must be a prom-client Registry (from this process' prom-client 15)");
  }
  // an OpenMetrics registry ends its text with `# EOF` (nothing may follow: the process metrics
  // would) and renames counters in place (`_total` dropped), which Herald's names do not survive
  if (options.registry !== undefined && options.registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) {
    throw invalid(`metrics: \`registry\` must serve the Prometheus text format (${Registry.PROMETHEUS_CONTENT_TYPE}), got ${options.registry.contentType}`);
  }
  const pollIntervalMs = options.pollIntervalMs ?? METRICS_DEFAULTS.pollIntervalMs;
  if (!(Number.isFinite(pollIntervalMs) && pollIntervalMs >= 0)) throw invalid(`metrics: pollIntervalMs must be >= 0, got ${pollIntervalMs}`);
  const readTimeoutMs = options.readTimeoutMs ?? METRICS_DEFAULTS.readTimeoutMs;
  if (!(readTimeoutMs > 0 && readTimeoutMs <= MAX_TIMER_MS)) throw invalid(`metrics: readTimeoutMs must be > 0 and at most ${MAX_TIMER_MS} (a timer's longest), got ${readTimeoutMs}`);
  return {
    app,
    registry: options.registry ?? new Registry(),
    pollIntervalMs,
    readTimeoutMs,
    processMetrics: options.processMetrics ?? METRICS_DEFAULTS.processMetrics,
  };
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
