import { SpanKind, context as contextApi, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { Envelope, EventDefinition, Publish } from '@herald/core';
import { HERALD, MESSAGING, OPERATION } from '../conventions.js';
import { injectSpan, injectSpanContext, isValidContext } from './propagation.js';
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
  /**
   * One publish call (an event, or a `publish.many` call's events) with its trace context: `send`
   * with the caller's options as they are when they name a creation context of their own, else
   * with the headers of the create span's context. A span the sampler dropped (most, under a
   * sampling ratio) is only carried: the call goes straight through, no promise of its own; a
   * recorded one ends when the call settles, with `onPublished`'s attributes or the error.
   */
  const call = <T, O extends { headers?: Readonly<Record<string, string>> }>(
    definition: EventDefinition,
    options: O | undefined,
    count: number | undefined,
    send: (options: O | undefined) => Promise<T>,
    onPublished?: (span: Span, published: T) => void,
  ): Promise<T> => {
    if (options?.headers?.['traceparent'] !== undefined) return send(options);
    const context = parent ?? contextApi.active();
    const unsampled = unsampledParent(context);
    if (unsampled) return send({ ...options, headers: injectSpanContext(unsampled, options?.headers) } as O);
    const span = startCreate(definition, context, count);
    const traced = { ...options, headers: injectSpan(span, options?.headers) } as O;
    if (!span.isRecording()) return send(traced);
    return recorded(span, () => send(traced), onPublished);
  };
  const recorded = async <T>(span: Span, publishing: () => Promise<T>, onPublished?: (span: Span, published: T) => void): Promise<T> => {
    try {
      const published = await publishing();
      onPublished?.(span, published);
      return published;
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
  const identify = (span: Span, envelope: Envelope): void => {
    span.setAttributes({
      [MESSAGING.messageId]: envelope.id,
      [MESSAGING.conversationId]: envelope.correlationId,
      [state.keyAttribute]: envelope.key,
    });
  };
  // arrows, not named functions: this runs per publish, and a named function expression made per
  // call costs a defineProperty under tsx (esbuild's keepNames)
  const traced = ((definition, data, options) => call(definition, options, undefined, (o) => publish(definition, data, o), identify)) as Publish;
  // one create span for the whole call (`messaging.batch.message_count`): every event of it carries
  // that span as its creation context, as the conventions allow when messages are created together
  traced.many = (definition, items, options) => call(definition, options, items.length, (o) => publish.many(definition, items, o));
  // a scheduled event is created when it is due, not now: no create span here, but it carries the
  // context it was scheduled in (a handler's process span, a request's server span), so what it
  // sets off when due stays in that trace; a context of its own, or none to carry, leaves it as given
  traced.schedule = (definition, data, options) => {
    if (options.headers?.['traceparent'] !== undefined) return publish.schedule(definition, data, options);
    const spanContext = trace.getSpanContext(parent ?? contextApi.active());
    if (spanContext === undefined || !isValidContext(spanContext)) return publish.schedule(definition, data, options);
    return publish.schedule(definition, data, { ...options, headers: injectSpanContext(spanContext, options.headers) });
  };
  traced.cancelTimer = (timerId) => publish.cancelTimer(timerId);
  return traced;
}
