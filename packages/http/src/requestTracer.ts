import type { IncomingHttpHeaders } from 'node:http';
import type { Publish } from '@herald/core';

/** What the gateway tells a {@link RequestTracer} about a request that arrived. */
export interface TracedRequest {
  readonly method: string;
  /** The path with its query, as received. */
  readonly url: string;
  /** The matched route's pattern (`/orders/:id`); undefined when no route matched (a 404). */
  readonly route: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly scheme: 'http' | 'https';
  /** The peer's address, when known. */
  readonly remoteAddress: string | undefined;
  /** The address and port the server listens on, when known. */
  readonly serverAddress: string | undefined;
  readonly serverPort: number | undefined;
  /** `1.1`, `2`... */
  readonly httpVersion: string;
}

/** One request's trace, as the gateway drives it. */
export interface RequestTrace {
  /** The trace id (W3C, 32 hex digits) the request's log lines carry; undefined when there is none. */
  readonly traceId: string | undefined;
  /** Runs the route's work with this trace current, so what it traces nests under the request. */
  run<T>(work: () => T): T;
  /** Wraps the `publish` a command route gets, so the events it publishes carry this trace. */
  publish(publish: Publish): Publish;
  /**
   * The request is over: the status sent (undefined when the client went away before the
   * response), and what it failed with, if anything (an error response's cause). Called once.
   */
  end(outcome: { readonly statusCode: number | undefined; readonly error?: unknown }): void;
}

/**
 * The gateway's tracing hook, tracer-agnostic: `@herald/tracing`'s `tracing.http` implements it on
 * OpenTelemetry (a server span from the incoming `traceparent`, a create span per published
 * event). The gateway calls `start` when a request arrives (probes excepted) and `end` on its
 * trace when the response is sent or the client went away. `start` must not throw.
 */
export interface RequestTracer {
  start(request: TracedRequest): RequestTrace;
}
