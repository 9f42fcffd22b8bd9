import { ROOT_CONTEXT, createTraceState, trace, type Context, type Span, type SpanContext } from '@opentelemetry/api';

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) in and out of string headers. Herald
 * envelopes and records carry `traceparent`/`tracestate` by contract, so this is W3C whatever
 * propagator the application registered for its own protocols. Written out rather than through
 * the SDK's propagator because it runs up to three times per event: reading a header here makes
 * no context, and writing one makes nothing but the string.
 */

/** Version 00, the one in use: exactly four fields. */
const VERSION_00 = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** A later version: the same four fields first, maybe more after a dash. */
const LATER_VERSION = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-|$)/;
/**
 * The last header {@link VERSION_00} matched: a hot path checks a header's sampled flag and then
 * parses it (a relay's report, a delivery), and the second look need not run the expression again.
 */
let lastVersion00 = '';

function isVersion00(header: string): boolean {
  if (header === lastVersion00) return true;
  if (!VERSION_00.test(header)) return false;
  lastVersion00 = header;
  return true;
}

const ZEROS_32 = '0'.repeat(32);
const ZEROS_16 = '0'.repeat(16);

/** The span context a `traceparent` header names (with its `tracestate`), if it is valid. */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): SpanContext | undefined {
  let header = Array.isArray(traceparent) ? traceparent[0] : traceparent;
  if (typeof header !== 'string') return undefined;
  if (!isVersion00(header)) {
    header = header.trim();
    if (!(isVersion00(header) || (LATER_VERSION.test(header) && !header.startsWith('00') && !header.startsWith('ff')))) return undefined;
  }
  const traceId = header.slice(3, 35);
  const spanId = header.slice(36, 52);
  if (traceId === ZEROS_32 || spanId === ZEROS_16) return undefined;
  const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  return {
    traceId,
    spanId,
    // the sampled flag is the lowest bit of the last hex digit
    traceFlags: parseInt(header[54]!, 16) & 1,
    isRemote: true,
    traceState: typeof state === 'string' && state.length > 0 ? createTraceState(state) : undefined,
  };
}

/**
 * Whether a `traceparent` header names a sampled trace (1), an unsampled one (0), or nothing
 * valid (-1), without building anything: the check the hot paths make before any span work.
 */
export function sampledFlag(traceparent: string | undefined): 1 | 0 | -1 {
  if (traceparent === undefined) return -1;
  if (isVersion00(traceparent)) {
    if (traceparent.startsWith(ZEROS_32, 3) || traceparent.startsWith(ZEROS_16, 36)) return -1;
    return parseInt(traceparent[54]!, 16) & 1 ? 1 : 0;
  }
  const parsed = parseTraceparent(traceparent);
  return parsed === undefined ? -1 : parsed.traceFlags & 1 ? 1 : 0;
}

/**
 * Whether a header of a version-00 `traceparent`'s length ends in flags whose sampled bit is clear,
 * without checking the rest: a cheap first look where only a sampled context needs the full check
 * (a sampled header never reads unsampled; an invalid one may).
 */
export function flagsReadUnsampled(traceparent: string): boolean {
  if (traceparent.length !== 55) return false;
  const c = traceparent.charCodeAt(54);
  // the last hex digit's value: 0-9, or a-f as 10-15
  return ((c <= 0x39 ? c - 0x30 : c - 0x57) & 1) === 0;
}

/** The context a `traceparent` header names, on top of `base`; `base` when there is none or it is invalid. */
export function extractContext(headers: Readonly<Record<string, string | string[] | undefined>> | undefined, base: Context = ROOT_CONTEXT): Context {
  return headers ? contextOf(headers['traceparent'], headers['tracestate'], base) : base;
}

/** The context a `traceparent` value (with its `tracestate`) names, on top of `base`; `base` when it is invalid. */
export function contextOf(traceparent: unknown, tracestate?: unknown, base: Context = ROOT_CONTEXT): Context {
  const spanContext = parseTraceparent(traceparent, tracestate);
  return spanContext ? trace.setSpanContext(base, spanContext) : base;
}

/** Whether `spanContext` has real ids: a no-op tracer's spans (no SDK, or a disabled one) have all-zero ones. */
export function isValidContext(spanContext: SpanContext): boolean {
  return spanContext.traceId !== ZEROS_32 && spanContext.spanId !== ZEROS_16;
}

/** The `traceparent` header value naming `spanContext`. */
export function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${spanContext.traceFlags & 1 ? '01' : '00'}`;
}

/** Headers naming `span` as the parent of what follows: `headers` with `traceparent` (and `tracestate`) replaced. */
export function injectSpan(span: Span, headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return injectSpanContext(span.spanContext(), headers);
}

/**
 * Headers naming `spanContext` as the parent of what follows (see {@link injectSpan}); `headers`
 * as they are for an invalid context (the all-zero ids of a span no SDK made, which W3C forbids
 * propagating: the trace context of the caller, if any, stays on).
 */
export function injectSpanContext(spanContext: SpanContext, headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (!isValidContext(spanContext)) return { ...headers };
  const out: Record<string, string> = { ...headers, traceparent: formatTraceparent(spanContext) };
  const state = spanContext.traceState?.serialize();
  if (state) out['tracestate'] = state;
  else delete out['tracestate'];
  return out;
}
