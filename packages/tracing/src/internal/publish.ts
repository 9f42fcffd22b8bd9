import { SpanKind, context as contextApi, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { EventDefinition, Publish } from '@herald/core';
import { HERALD, MESSAGING, OPERATION } from '../conventions.js';
import { injectSpan, injectSpanContext } from './propagation.js';
import { recordFailure, unsampledParent, type TracingState } from './spans.js';

/**
 * Wraps `publish` so each event gets a `create {topic}` span (PRODUCER), child of `parent` (else
 * of the active context), whose context the event carries in its `traceparent` header: that is the
 * event's creation context, which the send and process spans follow. An event published with a
 * `traceparent` of its own keeps it and gets no create span, as the messaging conventions ask
 * for a custom creation context. Below an unsampled parent the event carries the parent's context.
 */
export function tracedPublish(state: TracingState, publish: Publish, parent?: Context): Publish {
  const { tracer, system } = state;
  const startCreate = (definition: EventDefinition, context: Context, count?: number): Span => {
    const attributes: Attributes = {
      [MESSAGING.system]: system,
      [MESSAGING.operationType]: OPERATION.create,
      [MESSAGING.operationName]: OPERATION.create,
      [MESSAGING.destinationName]: definition.topic,
      [HERALD.eventType]: definition.type,
    };
    if (count !== undefined) attributes[MESSAGING.batchMessageCount] = count;
    return tracer.startSpan(`${OPERATION.create} ${definition.topic}`, { kind: SpanKind.PRODUCER, attributes }, context);
  };
  // a recorded create span: it ends when the publish settles, with the envelope's ids or the error
  const recorded = async <T>(span: Span, publishing: () => Promise<T>, onPublished?: (published: T) => void): Promise<T> => {
    try {
      const published = await publishing();
      onPublished?.(published);
      return published;
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
  // an arrow, not a named function: this runs per publish, and a named function expression made
  // per call costs a defineProperty under tsx (esbuild's keepNames). Not async: an event whose
  // trace is not sampled (most, under a sampling ratio) goes straight through, no promise of its own
  const traced = ((definition, data, options) => {
    if (options?.headers?.['traceparent'] !== undefined) return publish(definition, data, options);
    const context = parent ?? contextApi.active();
    const unsampled = unsampledParent(context);
    if (unsampled) return publish(definition, data, { ...options, headers: injectSpanContext(unsampled, options?.headers) });
    const span = startCreate(definition, context);
    const headers = injectSpan(span, options?.headers);
    // a root the sampler dropped: the event carries its context (so what follows is not sampled
    // again), and there is nothing to record
    if (!span.isRecording()) return publish(definition, data, { ...options, headers });
    return recorded(
      span,
      () => publish(definition, data, { ...options, headers }),
      (envelope) =>
        span.setAttributes({
          [MESSAGING.messageId]: envelope.id,
          [MESSAGING.conversationId]: envelope.correlationId,
          [state.keyAttribute]: envelope.key,
        }),
    );
  }) as Publish;
  // one create span for the whole call (`messaging.batch.message_count`): every event of it carries
  // that span as its creation context, as the conventions allow when messages are created together
  traced.many = (definition, items, options) => {
    if (options?.headers?.['traceparent'] !== undefined) return publish.many(definition, items, options);
    const context = parent ?? contextApi.active();
    const unsampled = unsampledParent(context);
    if (unsampled) return publish.many(definition, items, { ...options, headers: injectSpanContext(unsampled, options?.headers) });
    const span = startCreate(definition, context, items.length);
    const headers = injectSpan(span, options?.headers);
    if (!span.isRecording()) return publish.many(definition, items, { ...options, headers });
    return recorded(span, () => publish.many(definition, items, { ...options, headers }));
  };
  // a scheduled event is created when it is due, not now: it keeps the trace headers of its cause
  // (the publisher copies them) and gets no create span of its own here
  traced.schedule = (definition, data, options) => publish.schedule(definition, data, options);
  traced.cancelTimer = (timerId) => publish.cancelTimer(timerId);
  return traced;
}
