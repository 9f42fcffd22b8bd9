import { CoreErrors, HeraldError, adjustPublish, isHeraldError } from '@herald/core';
import type { Logger, Publish } from '@herald/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CORRELATION_ID_HEADER, REQUEST_ID_HEADER, parseCorrelationId } from './correlation.js';
import { heraldLoggerOf } from './fastifyLogger.js';
import { HttpErrors } from './errors.js';
import type { RequestTrace, RequestTracer } from './requestTracer.js';

/** What the gateway knows about one request while it runs. */
export interface RequestScope {
  /** The client's `X-Correlation-Id`, else the request id. */
  readonly correlationId: string;
  /** The app's logger with the request id, the correlation id and the trace id. */
  readonly logger: Logger;
  readonly trace: RequestTrace | undefined;
  /** Probes are logged at debug level and not traced. */
  readonly probe: boolean;
  /** What the request failed with, for the trace. */
  error: unknown;
  ended: boolean;
}

const scopes = new WeakMap<FastifyRequest, RequestScope>();

/** The scope of a request that went through {@link registerRequestScope}'s hooks. */
export function scopeOf(request: FastifyRequest): RequestScope {
  const scope = scopes.get(request);
  if (!scope) throw new HeraldError(HttpErrors.internal, `no request scope for ${request.method} ${request.url}: registerRequestScope was not called on this fastify instance`);
  return scope;
}

/**
 * A route's `publish`: the events default to the request's correlation id (a route naming its
 * own keeps it), and carry the request's trace when a tracer is set. An event that does not match
 * its schema fails with `internal` (500, logged), not `schema-violation`: the request was valid
 * (the gateway checked it), so the route built a bad event, and a 422 would blame the client.
 */
export function scopedPublish(scope: RequestScope, publish: Publish): Publish {
  const correlated = adjustPublish(publish, (options) => (options.correlationId === undefined ? { ...options, correlationId: scope.correlationId } : options));
  return ownFault(scope.trace ? scope.trace.publish(correlated) : correlated);
}

function ownFault(publish: Publish): Publish {
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (!isHeraldError(error) || error.code !== CoreErrors.schemaViolation.code) throw error;
      throw new HeraldError(HttpErrors.internal, `the route published an invalid event: ${error.message}`, { cause: error });
    }
  };
  const guarded = ((definition, data, options) => guard(() => publish(definition, data, options))) as Publish;
  guarded.many = (definition, items, options) => guard(() => publish.many(definition, items, options));
  guarded.schedule = (definition, data, options) => guard(() => publish.schedule(definition, data, options));
  guarded.cancelTimer = (timerId) => publish.cancelTimer(timerId);
  return guarded;
}

/** Runs a route's work inside the request's trace, if any. */
export function inScope<T>(scope: RequestScope, work: () => T): T {
  return scope.trace ? scope.trace.run(work) : work();
}

/**
 * Opens each request's scope (correlation id, trace, request logger) when it arrives and closes
 * it when the response is sent or the client goes away: one `request completed` line per
 * request, at info (debug for `probes`). The correlation and request ids are returned in
 * `X-Correlation-Id` and `X-Request-Id`, also on error responses. An invalid `X-Correlation-Id`
 * fails the request with `correlation-id-invalid` (400) once its scope is open, so the refusal
 * is itself logged and traced under the id the response names.
 */
export function registerRequestScope(fastify: FastifyInstance, options: { readonly logger: Logger; readonly tracer: RequestTracer | undefined; readonly probes: ReadonlySet<string> }): void {
  const { tracer, probes } = options;
  fastify.addHook('onRequest', async (request, reply) => {
    const probe = probes.has(request.url);
    const trace = tracer && !probe ? tracer.start(describe(request)) : undefined;
    let correlationId = request.id;
    let invalid: unknown;
    try {
      correlationId = parseCorrelationId(request.headers[CORRELATION_ID_HEADER]) ?? request.id;
    } catch (error) {
      invalid = error;
    }
    request.log = request.log.child(trace?.traceId ? { correlationId, traceId: trace.traceId } : { correlationId });
    const logger = heraldLoggerOf(request.log) ?? options.logger.child({ requestId: request.id, correlationId });
    scopes.set(request, { correlationId, logger, trace, probe, error: undefined, ended: false });
    reply.header(CORRELATION_ID_HEADER, correlationId).header(REQUEST_ID_HEADER, request.id);
    if (invalid !== undefined) throw invalid;
  });
  fastify.addHook('onResponse', async (request, reply) => {
    end(request, reply, reply.statusCode);
  });
  fastify.addHook('onRequestAbort', async (request) => {
    const scope = scopes.get(request);
    if (scope && scope.error === undefined) scope.error = new Error('the client closed the connection before the response was sent');
    end(request, undefined, undefined);
  });
}

function end(request: FastifyRequest, reply: FastifyReply | undefined, statusCode: number | undefined): void {
  const scope = scopes.get(request);
  if (!scope || scope.ended) return;
  scope.ended = true;
  scope.trace?.end({ statusCode, error: scope.error });
  const fields = {
    method: request.method,
    url: request.url,
    route: request.routeOptions.url,
    statusCode,
    durationMs: reply ? Math.round(reply.elapsedTime * 1000) / 1000 : undefined,
  };
  if (statusCode === undefined) scope.logger.warn('request aborted by the client', fields);
  else scope.logger[scope.probe ? 'debug' : 'info']('request completed', fields);
}

function describe(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url,
    route: request.routeOptions.url,
    headers: request.headers,
    scheme: request.protocol,
    remoteAddress: request.ip,
    serverAddress: request.hostname || undefined,
    serverPort: request.port ?? undefined,
    httpVersion: request.raw.httpVersion,
  };
}
