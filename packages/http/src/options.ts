import { CoreErrors, HeraldError, MAX_TIMER_MS, hasIdempotency, systemClock } from '@herald/core';
import type { Clock, IdempotencyStore, Logger, Publish, Stores } from '@herald/core';
import { silentLogger } from '@herald/core';
import type { TransactionalRunner } from './idempotent.js';
import type { Authenticator } from './jwt.js';
import type { GatewayMetrics } from './metrics.js';
import { PROBLEM_CATALOG, type ProblemOptions } from './problem.js';
import type { RequestTracer } from './requestTracer.js';

/** What the gateway needs from a Herald app: its transactions and stores with the idempotency ability. */
export interface GatewayApp<Tx> extends TransactionalRunner<Tx> {
  readonly stores: Stores<Tx>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Appends straight to the log (`App.publishDirect`); ingest routes need it. */
  readonly publishDirect?: Publish;
}

/** Options of {@link createGateway}; every field but `app` has a default (see GATEWAY_DEFAULTS). */
export interface GatewayOptions<Tx> {
  readonly app: GatewayApp<Tx>;
  /** Largest request body accepted; a larger one is answered 413. Default 65 536 (64 KiB). */
  readonly bodyLimitBytes?: number;
  /**
   * Deepest nesting of arrays and objects a JSON body may have; a deeper one is answered 400
   * `body-too-deep` before it is parsed. Default 1,000. What a route does with a body recurses
   * (`JSON.stringify` when it is published or stored overflows a few thousand levels down).
   */
  readonly maxBodyDepth?: number;
  /**
   * How long a client has to send a whole request, headers and body, from its first byte; one not
   * whole in time is answered 408 `request-incomplete` and its connection closed. It bounds what a
   * slow client holds (a connection, a buffer, a place in the drain at shutdown). Only receiving
   * counts: a slow route or an answer held for an event is not cut by it. Default 30 000; raise it
   * with `bodyLimitBytes` for large bodies over slow links.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Most requests served at once; one more is answered 503 `overloaded` with `Retry-After` before
   * its route starts, and a place frees when a response is finished or its connection closes.
   * /livez, /readyz and /metrics are not counted. It bounds the memory a burst takes while
   * requests queue for the store (a single SQLite writer serves one transaction at a time).
   * Default 1,024.
   */
  readonly maxRequestsInFlight?: number;
  readonly idempotency?: {
    /** How long a key and its response are remembered. Default 24 h. */
    readonly ttlMs?: number;
    /**
     * How long a running request holds its key; after it, a retry may take over a key whose
     * request died with its process. Must exceed the longest request. Default 60 000.
     */
    readonly leaseMs?: number;
    /** How often expired keys are deleted; 0 turns purging off. At most `MAX_TIMER_MS`. Default 1 h. */
    readonly purgeIntervalMs?: number;
  };
  readonly shutdown?: {
    /** How long in-flight requests may take to finish before their connections are cut. At most `MAX_TIMER_MS`. Default 10 000. */
    readonly deadlineMs?: number;
    /** Time between reporting not-ready and refusing new requests, for load balancers to notice. At most `MAX_TIMER_MS`. Default 0. */
    readonly readinessGraceMs?: number;
    /** Close gracefully on SIGTERM/SIGINT. Default false. */
    readonly handleSignals?: boolean;
    /** Runs after the HTTP server has drained (e.g. `() => app.close()`), on any close. */
    readonly onClosed?: () => Promise<void>;
  };
  readonly problems?: ProblemOptions;
  /**
   * Authenticates callers (`jwtAuthenticator` from this package). With it, every command and query
   * route requires a valid token unless the route sets `authentication: 'off'` or `'optional'`;
   * the probes and /metrics stay open. Default: no authentication.
   */
  readonly auth?: Authenticator;
  /** Serves `GET /metrics` and measures every request (`createMetrics` from `@herald/metrics`). Default: neither. */
  readonly metrics?: GatewayMetrics;
  /** Defaults to the app's clock, else the system clock. */
  readonly clock?: Clock;
  /**
   * Defaults to the app's logger, else silent. Fastify logs through it too, and each request
   * gets one `request completed` line with its request id, correlation id and trace id.
   */
  readonly logger?: Logger;
  /** Traces each request (a server span, the events it publishes in its trace); see `@herald/tracing`. Default: none. */
  readonly tracing?: RequestTracer;
}

/** Gateway options with every default filled in. */
export interface ResolvedGatewayOptions<Tx> {
  readonly app: GatewayApp<Tx>;
  /** The app's idempotency keys (the stores' ability). */
  readonly idempotency: IdempotencyStore<Tx>;
  readonly bodyLimitBytes: number;
  readonly maxBodyDepth: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestsInFlight: number;
  readonly ttlMs: number;
  readonly leaseMs: number;
  readonly purgeIntervalMs: number;
  readonly deadlineMs: number;
  readonly readinessGraceMs: number;
  readonly handleSignals: boolean;
  readonly onClosed: (() => Promise<void>) | undefined;
  readonly problems: ProblemOptions;
  readonly auth: Authenticator | undefined;
  readonly metrics: GatewayMetrics | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tracing: RequestTracer | undefined;
}

/** The gateway's defaults, in one place. */
export const GATEWAY_DEFAULTS = {
  bodyLimitBytes: 64 * 1024,
  maxBodyDepth: 1_000,
  requestTimeoutMs: 30_000,
  maxRequestsInFlight: 1_024,
  ttlMs: 24 * 60 * 60 * 1000,
  leaseMs: 60_000,
  purgeIntervalMs: 60 * 60 * 1000,
  deadlineMs: 10_000,
  readinessGraceMs: 0,
} as const;

/** Fills in defaults and validates; throws `invalid-options` on a bad value. */
export function resolveGatewayOptions<Tx>(options: GatewayOptions<Tx>): ResolvedGatewayOptions<Tx> {
  if (!options?.app || typeof options.app.transaction !== 'function' || !options.app.stores) {
    throw invalid('gateway: `app` must be a Herald app (transaction() and stores)');
  }
  const { stores } = options.app;
  if (!hasIdempotency(stores)) {
    throw invalid("gateway: the app's stores lack the idempotency ability (stores.idempotency) that Idempotency-Key needs; the SQLite, PostgreSQL and memory stores have it");
  }
  const resolved: ResolvedGatewayOptions<Tx> = {
    app: options.app,
    idempotency: stores.idempotency,
    bodyLimitBytes: options.bodyLimitBytes ?? GATEWAY_DEFAULTS.bodyLimitBytes,
    maxBodyDepth: options.maxBodyDepth ?? GATEWAY_DEFAULTS.maxBodyDepth,
    requestTimeoutMs: options.requestTimeoutMs ?? GATEWAY_DEFAULTS.requestTimeoutMs,
    maxRequestsInFlight: options.maxRequestsInFlight ?? GATEWAY_DEFAULTS.maxRequestsInFlight,
    ttlMs: options.idempotency?.ttlMs ?? GATEWAY_DEFAULTS.ttlMs,
    leaseMs: options.idempotency?.leaseMs ?? GATEWAY_DEFAULTS.leaseMs,
    purgeIntervalMs: options.idempotency?.purgeIntervalMs ?? GATEWAY_DEFAULTS.purgeIntervalMs,
    deadlineMs: options.shutdown?.deadlineMs ?? GATEWAY_DEFAULTS.deadlineMs,
    readinessGraceMs: options.shutdown?.readinessGraceMs ?? GATEWAY_DEFAULTS.readinessGraceMs,
    handleSignals: options.shutdown?.handleSignals ?? false,
    onClosed: options.shutdown?.onClosed,
    problems: options.problems ?? {},
    auth: options.auth,
    metrics: options.metrics,
    clock: options.clock ?? options.app.clock ?? systemClock,
    logger: options.logger ?? options.app.logger ?? silentLogger,
    tracing: options.tracing,
  };
  if (resolved.tracing !== undefined && typeof resolved.tracing.start !== 'function') throw invalid('gateway: tracing must be a RequestTracer (start(request))');
  positiveInteger(resolved.bodyLimitBytes, 'bodyLimitBytes');
  positiveInteger(resolved.maxBodyDepth, 'maxBodyDepth');
  positiveInteger(resolved.requestTimeoutMs, 'requestTimeoutMs');
  positiveInteger(resolved.maxRequestsInFlight, 'maxRequestsInFlight');
  positiveInteger(resolved.ttlMs, 'idempotency.ttlMs');
  positiveInteger(resolved.leaseMs, 'idempotency.leaseMs');
  if (resolved.leaseMs > resolved.ttlMs) throw invalid(`gateway: idempotency.leaseMs (${resolved.leaseMs}) must not exceed ttlMs (${resolved.ttlMs})`);
  timer(resolved.purgeIntervalMs, 'idempotency.purgeIntervalMs', nonNegative);
  timer(resolved.deadlineMs, 'shutdown.deadlineMs', positiveInteger);
  timer(resolved.readinessGraceMs, 'shutdown.readinessGraceMs', nonNegative);
  if (resolved.metrics && (typeof resolved.metrics.observeRequest !== 'function' || typeof resolved.metrics.scrape !== 'function')) {
    throw invalid('gateway: `metrics` must have observeRequest() and scrape() (createMetrics from @herald/metrics gives them)');
  }
  if (resolved.auth && typeof resolved.auth.authenticate !== 'function') {
    throw invalid('gateway: `auth` must have authenticate() (jwtAuthenticator gives it)');
  }
  for (const [code, kind] of Object.entries(resolved.problems.errorKinds ?? {})) {
    if (!PROBLEM_CATALOG[kind]) throw invalid(`gateway: errorKinds.${code} = "${kind}" is not a known problem code`);
  }
  return resolved;
}

function positiveInteger(value: number, name: string): void {
  if (!(Number.isInteger(value) && value > 0)) throw invalid(`gateway: ${name} must be a positive integer, got ${value}`);
}

function nonNegative(value: number, name: string): void {
  if (!(Number.isFinite(value) && value >= 0)) throw invalid(`gateway: ${name} must be >= 0, got ${value}`);
}

/**
 * A route's status, checked when the route is declared: an integer from 200 to 599 (a final
 * status; a route may answer a problem it recorded, a 422). It is sent after the work committed,
 * so one fastify cannot send (`2010`, `99`) would answer every committed request 500, and a
 * client retrying what it was told failed would apply it again.
 */
export function routeStatus(value: unknown, where: string): number {
  if (!(Number.isInteger(value) && (value as number) >= 200 && (value as number) <= 599)) {
    throw invalid(`${where}: status must be an HTTP status, an integer from 200 to 599, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value as number;
}

/** A duration that becomes a timer: at most `MAX_TIMER_MS`, since Node runs a longer one after 1 ms. */
function timer(value: number, name: string, check: (value: number, name: string) => void): void {
  check(value, name);
  if (value > MAX_TIMER_MS) throw invalid(`gateway: ${name} must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${value}`);
}

/**
 * The deadline a `close({ deadlineMs })` call asks for: a number >= 0, `Infinity` meaning "as long
 * as it takes", capped at `MAX_TIMER_MS`: Node runs a longer timer after 1 ms, which cut every
 * request in flight at once. Anything else throws `invalid-options`.
 */
export function closeDeadline(value: unknown): number {
  if (value !== Number.POSITIVE_INFINITY && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
    throw invalid(`gateway: close({ deadlineMs }) must be a number >= 0 or Infinity, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return Math.min(value, MAX_TIMER_MS);
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
