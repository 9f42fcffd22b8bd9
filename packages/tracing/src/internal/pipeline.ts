import { ROOT_CONTEXT, SpanKind, context as contextApi, trace, type Attributes, type Link, type Span } from '@opentelemetry/api';
import { policyStep, redriveTargetOf } from '@herald/core';
import type { BatchContext, BatchMiddleware, Envelope, HandlerContext, PolicyStep } from '@herald/core';
import { EXCEPTION, HERALD, MESSAGING, OPERATION, SEND_CONTEXT_HEADER } from '../conventions.js';
import { contextOf, flagsReadUnsampled, parseTraceparent, sampledFlag } from './propagation.js';
import { exceptionAttributes, markFailed, type TracingState } from './spans.js';
import { tracedPublish } from './publish.js';

/** Name of the step that opens a delivery's process span. */
export const PROCESS_STEP = 'trace';
/** Name of the step, inside `transaction`, that gives `ctx.publish` create spans. */
export const PUBLISH_STEP = 'tracePublish';
/** Name of the step, just inside `retry`, that records each failed attempt on the process span. */
export const ATTEMPT_STEP = 'traceAttempt';

/**
 * The process span of each delivery: `process {topic}` (CONSUMER), child of the send span named in
 * the record's headers (else of the record's `traceparent`), linked to the event's creation context
 * (its create span) when that differs. It covers the delivery from its first attempt to its
 * outcome, retries included, and records the outcome, the attempts and, for a dead-lettered
 * delivery, the error. While it runs the span is the active context (so spans a handler opens
 * nest under it, with a context manager) and `ctx.logger` carries its `traceId` and `spanId`.
 * Below an unsampled parent there is no span: the delivery's lines carry the parent's `traceId`,
 * and the events it publishes the trace context of their cause, as the core copies it.
 */
export function processStep<Tx>(state: TracingState): PolicyStep<Tx> {
  const { tracer, processScopes } = state;
  return policyStep<Tx>(PROCESS_STEP, {
    createBatch: () => processBatch<Tx>(state),
    create: () => (next) =>
    async function traceHandler(event, ctx) {
      const { delivery } = ctx;
      const redrive = isRedrive(ctx);
      const traceparent = redrive ? delivery.headers['traceparent'] : parentOf(delivery.headers);
      // not sampled upstream: no span; the core's publisher carries the trace on to the effects
      if (sampledFlag(traceparent) === 0) return next(event, ctx.with({ logger: ctx.logger.child({ traceId: traceparent!.slice(3, 35) }) }));
      const parent = contextOf(traceparent, delivery.headers['tracestate']);
      const span = tracer.startSpan(
        `${OPERATION.process} ${delivery.topic}`,
        { kind: SpanKind.CONSUMER, attributes: processAttributes(state, event, ctx, redrive), links: creationLink(event, traceparent) },
        parent,
      );
      const active = trace.setSpan(parent, span);
      processScopes.set(ctx.state, active);
      const { traceId, spanId } = span.spanContext();
      const traced = ctx.with({ logger: ctx.logger.child({ traceId, spanId }) });
      try {
        await contextApi.with(active, next, undefined, event, traced);
      } catch (error) {
        if (!ctx.state.closing.aborted) markFailed(span, error);
        throw error;
      } finally {
        settle(ctx, span);
        processScopes.delete(ctx.state);
        span.end();
      }
    },
  });
}

/** Links a batch's process span keeps at most (OpenTelemetry's default span limit). */
const MAX_BATCH_LINKS = 128;

/**
 * A batch handler's whole-batch call (`app.onBatch`): one `process {topic}` span for the batch
 * (`messaging.batch.message_count`), inside its transaction. Its parent is the context the
 * records carry when they all carry the same one (a `publish.many` call sent together); otherwise
 * it starts a trace of its own, linked to each distinct sampled context (up to 128). The events
 * the handler publishes get create spans under it. When no record of the batch is sampled there
 * is no span, as for a single delivery.
 */
function processBatch<Tx>(state: TracingState): BatchMiddleware<Tx> {
  const { tracer } = state;
  return (next) =>
    async function traceBatch(events, ctx) {
      const contexts = new Map<string, Link>();
      let unsampled: string | undefined;
      for (const delivery of ctx.deliveries) {
        const traceparent = parentOf(delivery.headers);
        if (traceparent === undefined) continue;
        // once one unsampled context is known, another header whose flags read unsampled changes
        // nothing (unsampled or invalid, it adds no link, and no link reads unsampled): most of a
        // batch at a low sampling ratio, skipped before the lookup hashes the header
        if (unsampled !== undefined && flagsReadUnsampled(traceparent)) continue;
        if (contexts.has(traceparent)) continue;
        const flag = sampledFlag(traceparent);
        if (flag === 0) unsampled ??= traceparent;
        if (flag !== 1 || contexts.size >= MAX_BATCH_LINKS) continue;
        const context = parseTraceparent(traceparent, delivery.headers['tracestate']);
        if (context) contexts.set(traceparent, { context });
      }
      // nothing sampled: no span, and the events the handler publishes carry the first record's
      // unsampled context (a batch has no one cause for the core to copy it from; without one they
      // would start traces of their own, sampled afresh, below a trace the sampler dropped)
      if (contexts.size === 0 && unsampled !== undefined) return next(events, { ...ctx, publish: tracedPublish(state, ctx.publish, contextOf(unsampled)) });
      const links = [...contexts.values()];
      const parent = links.length === 1 ? trace.setSpanContext(ROOT_CONTEXT, links[0]!.context) : ROOT_CONTEXT;
      const span = tracer.startSpan(
        `${OPERATION.process} ${ctx.deliveries[0]?.topic ?? ''}`,
        { kind: SpanKind.CONSUMER, attributes: batchAttributes(state, events, ctx), ...(links.length > 1 ? { links } : {}) },
        parent,
      );
      const active = trace.setSpan(parent, span);
      try {
        await next(events, { ...ctx, publish: tracedPublish(state, ctx.publish, active) });
      } catch (error) {
        markFailed(span, error);
        throw error;
      } finally {
        span.end();
      }
    };
}

function batchAttributes<Tx>(state: TracingState, events: readonly Envelope[], ctx: BatchContext<Tx>): Attributes {
  const first = ctx.deliveries[0];
  return {
    [MESSAGING.system]: state.system,
    [MESSAGING.operationType]: OPERATION.process,
    [MESSAGING.operationName]: OPERATION.process,
    [MESSAGING.destinationName]: first?.topic,
    [MESSAGING.partitionId]: first === undefined ? undefined : String(first.partition),
    [MESSAGING.consumerGroup]: ctx.group,
    [MESSAGING.batchMessageCount]: events.length,
    [HERALD.handler]: ctx.handler,
  };
}

/**
 * Inside `transaction`: `ctx.publish` opens a create span per event, child of the delivery's
 * process span.
 */
export function publishStep<Tx>(state: TracingState): PolicyStep<Tx> {
  return policyStep<Tx>(PUBLISH_STEP, {
    requires: ['transaction'],
    create: () => (next) =>
      function tracePublishHandler(event, ctx) {
        const active = state.processScopes.get(ctx.state);
        if (!active) return next(event, ctx);
        return next(event, ctx.with({ publish: tracedPublish(state, ctx.publish, active) }));
      },
  });
}

/**
 * Just inside `retry`: each failed attempt is recorded on the process span as an `exception`
 * event with its attempt number, whatever failed it — the handler, its timeout, the commit.
 */
export function attemptStep<Tx>(state: TracingState): PolicyStep<Tx> {
  return policyStep<Tx>(ATTEMPT_STEP, {
    create: () => (next) =>
      async function traceAttemptHandler(event, ctx) {
        const active = state.processScopes.get(ctx.state);
        if (!active) return next(event, ctx);
        try {
          await next(event, ctx);
        } catch (error) {
          trace.getSpan(active)?.addEvent(EXCEPTION.event, { ...exceptionAttributes(error), [HERALD.attempt]: ctx.attempt });
          throw error;
        }
      },
  });
}

function processAttributes(state: TracingState, event: Envelope, ctx: HandlerContext<unknown>, redrive: boolean): Attributes {
  const { delivery } = ctx;
  return {
    [MESSAGING.system]: state.system,
    [MESSAGING.operationType]: OPERATION.process,
    [MESSAGING.operationName]: OPERATION.process,
    [MESSAGING.destinationName]: delivery.topic,
    [MESSAGING.partitionId]: String(delivery.partition),
    [MESSAGING.consumerGroup]: ctx.group,
    [MESSAGING.messageId]: event.id,
    [MESSAGING.conversationId]: event.correlationId,
    [state.keyAttribute]: delivery.key,
    [state.offsetAttribute]: delivery.offset,
    [HERALD.eventType]: event.type,
    [HERALD.handler]: ctx.handler,
    [HERALD.redrive]: redrive ? true : undefined,
  };
}

/**
 * Whether a delivery redrives a dead letter: in the app (`app.redrive`) or through the log to this
 * group (`herald dlq redrive`). Its headers are the letter's, with the send context of its first
 * delivery, days old maybe: its process span is a child of the creation context instead.
 */
function isRedrive(ctx: HandlerContext<unknown>): boolean {
  return ctx.redrive || redriveTargetOf(ctx.delivery.headers)?.group === ctx.group;
}

/** The context a delivery's process span is a child of: its send span's when a traced broker sent it, else its creation context. */
function parentOf(recordHeaders: Readonly<Record<string, string>>): string | undefined {
  return recordHeaders[SEND_CONTEXT_HEADER] ?? recordHeaders['traceparent'];
}

/** A link to the event's creation context, when the delivery's parent is another span (the send span). */
function creationLink(event: Envelope, parent: string | undefined): Link[] | undefined {
  const creation = event.headers['traceparent'];
  if (creation === undefined || creation === parent) return undefined;
  const spanContext = parseTraceparent(creation, event.headers['tracestate']);
  return spanContext ? [{ context: spanContext }] : undefined;
}

function settle(ctx: HandlerContext<unknown>, span: Span): void {
  if (!span.isRecording()) return;
  const { state } = ctx;
  const outcome = state.outcome ?? (state.closing.aborted ? 'abandoned' : undefined);
  span.setAttribute(HERALD.attempts, state.attempts);
  if (outcome !== undefined) span.setAttribute(HERALD.outcome, outcome);
  if (outcome === 'dead-lettered' && state.lastError) {
    markFailed(span, state.lastError);
  }
}
