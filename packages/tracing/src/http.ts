import { SpanKind, SpanStatusCode, context as contextApi, isSpanContextValid, trace, type Attributes, type Context } from '@opentelemetry/api';
import { redactText, type Publish } from '@herald/core';
import { ABORTED, ERROR_TYPE, EXCEPTION, HTTP, HTTP_METHODS } from './conventions.js';
import { extractContext } from './internal/propagation.js';
import { exceptionAttributes, unsampledParent, type TracingState } from './internal/spans.js';
import { tracedPublish } from './internal/publish.js';

/**
 * The request as the HTTP gateway (`@herald/http`) describes it. Declared here by shape, so this
 * package does not depend on the gateway: `tracing.http` is a `RequestTracer` for `createGateway`.
 */
export interface HttpRequestInfo {
  readonly method: string;
  readonly url: string;
  readonly route: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly scheme: string;
  readonly remoteAddress: string | undefined;
  readonly serverAddress: string | undefined;
  readonly serverPort: number | undefined;
  readonly httpVersion: string;
}

/** One request's trace, as the gateway drives it (the shape of `@herald/http`'s `RequestTrace`). */
export interface HttpRequestTrace {
  readonly traceId: string | undefined;
  run<T>(work: () => T): T;
  publish(publish: Publish): Publish;
  end(outcome: { readonly statusCode: number | undefined; readonly error?: unknown }): void;
}

/** `@herald/http`'s `RequestTracer`, by shape. */
export interface HttpTracer {
  start(request: HttpRequestInfo): HttpRequestTrace;
}

/**
 * Server spans for the HTTP gateway: `{method} {route}` (SERVER), child of the incoming
 * `traceparent` (a new trace without one, or with an invalid one), with the stable HTTP
 * attributes. The route's work runs with the span active, and the events it publishes get create
 * spans under it. 5xx responses, and requests whose client went away, are errors; 4xx are not
 * (the server did its job). A caller's unsampled `traceparent` is followed without a span.
 */
export function httpTracer(state: TracingState): HttpTracer {
  return {
    start(request) {
      const parent = extractContext(request.headers);
      const unsampled = unsampledParent(parent);
      if (unsampled) return untraced(state, parent, unsampled.traceId);
      const span = state.tracer.startSpan(
        request.route === undefined ? request.method : `${request.method} ${request.route}`,
        { kind: SpanKind.SERVER, attributes: requestAttributes(request) },
        parent,
      );
      const active = trace.setSpan(parent, span);
      const spanContext = span.spanContext();
      return {
        traceId: isSpanContextValid(spanContext) ? spanContext.traceId : undefined,
        run: (work) => contextApi.with(active, work),
        publish: (publish) => tracedPublish(state, publish, active),
        end({ statusCode, error }) {
          if (statusCode === undefined) {
            span.setAttribute(ERROR_TYPE, ABORTED);
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client went away before the response' });
          } else {
            span.setAttribute(HTTP.statusCode, statusCode);
            if (statusCode >= 500) {
              span.setAttribute(ERROR_TYPE, String(statusCode));
              span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? redactText(error.message) : undefined });
              if (error instanceof Error) span.addEvent(EXCEPTION.event, exceptionAttributes(error));
            }
          }
          span.end();
        },
      };
    },
  };
}

/** A request whose caller's trace is not sampled: no span, its events carry the caller's context. */
function untraced(state: TracingState, parent: Context, traceId: string): HttpRequestTrace {
  return {
    traceId,
    run: (work) => contextApi.with(parent, work),
    publish: (publish) => tracedPublish(state, publish, parent),
    end: () => {},
  };
}

function requestAttributes(request: HttpRequestInfo): Attributes {
  const method = request.method.toUpperCase();
  const query = request.url.indexOf('?');
  const userAgent = request.headers['user-agent'];
  const attributes: Attributes = {
    [HTTP.method]: HTTP_METHODS.has(method) ? method : '_OTHER',
    [HTTP.urlPath]: query < 0 ? request.url : request.url.slice(0, query),
    [HTTP.urlScheme]: request.scheme,
    [HTTP.protocolVersion]: request.httpVersion,
  };
  if (request.route !== undefined) attributes[HTTP.route] = request.route;
  if (request.serverAddress !== undefined) attributes[HTTP.serverAddress] = request.serverAddress;
  if (request.serverPort !== undefined) attributes[HTTP.serverPort] = request.serverPort;
  if (request.remoteAddress !== undefined) attributes[HTTP.clientAddress] = request.remoteAddress;
  if (typeof userAgent === 'string') attributes[HTTP.userAgent] = userAgent;
  return attributes;
}
