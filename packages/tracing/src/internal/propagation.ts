import { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, trace, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * W3C trace context in and out of string headers. Herald envelopes and records carry
 * `traceparent`/`tracestate` by contract, so this is W3C whatever propagator the application
 * registered for its own protocols.
 */
const w3c = new W3CTraceContextPropagator();

/** The context a `traceparent` (and `tracestate`) header names, on top of `base`; `base` when there is none or it is invalid. */
export function extractContext(headers: Readonly<Record<string, string | string[] | undefined>> | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!headers || headers['traceparent'] === undefined) return base;
  return w3c.extract(base, headers, defaultTextMapGetter);
}

/** The span context a `traceparent` header names, if valid. */
export function extractSpanContext(headers: Readonly<Record<string, string>> | undefined): SpanContext | undefined {
  if (!headers || headers['traceparent'] === undefined) return undefined;
  return trace.getSpanContext(w3c.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
}

/** Headers naming `span` as the parent of what follows: `headers` with `traceparent` (and `tracestate`) replaced. */
export function injectSpan(span: Span, headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  w3c.inject(trace.setSpan(ROOT_CONTEXT, span), out, defaultTextMapSetter);
  return out;
}
