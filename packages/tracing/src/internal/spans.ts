import { types } from 'node:util';
import { SpanStatusCode, TraceFlags, trace, type Attributes, type Context, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { describeThrown, redactText, type DeliveryState, type DescribeThrownOptions } from '@herald/core';
import { ERROR_TYPE, EXCEPTION, HERALD_SYSTEM, systemAttributes } from '../conventions.js';
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
  return isError(error) ? error.name : '_OTHER';
}

/**
 * What was thrown when it is no Error (a plain object as JSON: `{"code":"E42","status":503}`), cut
 * at 2 KiB: a span attribute, not a payload (an OTLP batch has a size limit).
 */
const THROWN: DescribeThrownOptions = { maxLength: 2_048 };
/** A cause in a stack trace: an Error without a stack as its stack's first line would read (`TypeError: ...`). */
const STACK_LINE: DescribeThrownOptions = { ...THROWN, named: true };

/** Marks `span` failed with `error`: status ERROR (its message, credentials redacted) and `error.type`. */
export function markFailed(span: Span, error: unknown): void {
  let type = '_OTHER';
  let message = 'the error could not be read';
  try {
    type = errorType(error);
    message = isError(error) ? redactText(error.message) : describeThrown(error, THROWN);
  } catch {
    // a getter that throws: the span still fails, with what could be read
  }
  span.setAttribute(ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** Marks `span` failed with `error` ({@link markFailed}), and records the exception as an event. */
export function recordFailure(span: Span, error: unknown): void {
  markFailed(span, error);
  span.addEvent(EXCEPTION.event, exceptionAttributes(error));
}

/** How many causes below an error its stack trace follows. */
const MAX_CAUSES = 8;

/**
 * An `exception` event's attributes for `error`: `exception.type` (as {@link errorType}),
 * `exception.message` and `exception.stacktrace`, whose stack goes on down the `cause` chain
 * (`Caused by: ` and each cause's stack, 8 at most: the driver error under the Herald error that
 * wraps it is what an operator needs), credentials in both redacted as the logs redact them
 * (a driver's message may hold its connection string, an HTTP client's its bearer token).
 */
export function exceptionAttributes(error: unknown): Attributes {
  try {
    const attributes: Attributes = {
      [EXCEPTION.type]: errorType(error),
      [EXCEPTION.message]: isError(error) ? redactText(error.message) : describeThrown(error, THROWN),
    };
    if (isError(error) && error.stack) attributes[EXCEPTION.stacktrace] = redactText(stackWithCauses(error));
    return attributes;
  } catch {
    // span bookkeeping must never replace the error it records (a getter that throws, a revoked proxy)
    return { [EXCEPTION.type]: '_OTHER', [EXCEPTION.message]: 'the error could not be read' };
  }
}

function stackWithCauses(error: Error): string {
  let text = error.stack ?? describeThrown(error, STACK_LINE);
  const seen = new Set<unknown>([error]);
  let cause: unknown = error.cause;
  for (let depth = 0; cause !== undefined && depth < MAX_CAUSES; depth++) {
    if (seen.has(cause)) return `${text}\nCaused by: [circular]`;
    seen.add(cause);
    text += `\nCaused by: ${isError(cause) ? (cause.stack ?? describeThrown(cause, STACK_LINE)) : describeThrown(cause, STACK_LINE)}`;
    cause = isError(cause) ? cause.cause : undefined;
  }
  return cause === undefined ? text : `${text}\nCaused by: [cause chain cut]`;
}

function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
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
