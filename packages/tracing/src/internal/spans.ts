import { SpanStatusCode, TraceFlags, trace, type Context, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { DeliveryState } from '@herald/core';
import { ERROR_TYPE, HERALD_SYSTEM, systemAttributes } from '../conventions.js';
import { isValidContext } from './propagation.js';

/** What every span factory of one `createTracing` shares. */
export interface TracingState {
  readonly tracer: Tracer;
  /** `messaging.system`. */
  readonly system: string;
  /** `messaging.{system}.message.key` and `messaging.{system}.offset`. */
  readonly keyAttribute: string;
  readonly offsetAttribute: string;
  /**
   * Each running delivery's context (its process span), for the step inside `transaction` to
   * parent create spans on. Removed when the delivery ends: a Map, as a WeakMap's ephemerons
   * slow every scavenge down.
   */
  readonly processScopes: Map<DeliveryState, Context>;
}

export function tracingState(tracer: Tracer, system: string = HERALD_SYSTEM): TracingState {
  const names = systemAttributes(system);
  return { tracer, system, keyAttribute: names.key, offsetAttribute: names.offset, processScopes: new Map() };
}

/** `error.type`: the error's `code` (a Herald error's, low cardinality by design), else its class name. */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.length > 0) return code;
  return error instanceof Error ? error.name : '_OTHER';
}

/** Marks `span` failed with `error`: status ERROR and `error.type`. */
export function markFailed(span: Span, error: unknown): void {
  span.setAttribute(ERROR_TYPE, errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Marks `span` failed with `error` ({@link markFailed}), and records the exception as an event. */
export function recordFailure(span: Span, error: unknown): void {
  markFailed(span, error);
  if (error instanceof Error) span.recordException(error);
}

/**
 * The span context of `context` when it is a parent whose trace is not sampled. Below one, Herald
 * opens no span and carries the parent's context on, as OpenTelemetry's default sampler
 * (parent-based) would decide, without paying for spans that nobody records.
 */
export function unsampledParent(context: Context): SpanContext | undefined {
  const parent = trace.getSpanContext(context);
  return parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) === 0 && isValidContext(parent) ? parent : undefined;
}
