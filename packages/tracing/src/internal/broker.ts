import { ROOT_CONTEXT, SpanKind, trace, type Span } from '@opentelemetry/api';
import type { Broker, OutgoingRecord } from '@herald/core';
import { MESSAGING, OPERATION } from '../conventions.js';
import { extractContext, injectSpan, sampledFlag } from './propagation.js';
import { recordFailure, type TracingState } from './spans.js';

const TRACED = Symbol('herald.tracedBroker');

/**
 * Wraps a broker so that each record published gets a `send {topic}` span, child of the record's
 * creation context (its `traceparent`, from a create span), and travels with the send span's
 * context in its record headers: the process span of each consumer follows it. The envelope
 * (the record's value) is not touched, so the creation context it carries stays as the producer
 * made it. A record without a creation context gets a send span that starts its trace (PRODUCER:
 * it is then the creation context); with one, the send span is a CLIENT span, as the conventions
 * ask when create spans exist. A record whose creation context is not sampled is sent as it is.
 *
 * Everything else is the wrapped broker's: a Proxy forwards every other property, so optional
 * abilities (`ensureTopics`, `resetOffsets`, the inspector, and any added later) stay visible to
 * their type guards and run on the wrapped broker.
 */
export function tracedBroker<B extends Broker>(state: TracingState, broker: B): B {
  // wrapping twice would trace each send twice
  if ((broker as { [TRACED]?: boolean })[TRACED]) return broker;
  const { tracer, system } = state;
  const publish = async function publishTraced(records: readonly OutgoingRecord[]): Promise<void> {
    const spans: Span[] = [];
    const traced: OutgoingRecord[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (sampledFlag(record.headers?.['traceparent']) === 0) {
        // not sampled upstream: the record travels with its creation context, and no span
        traced[i] = record;
        continue;
      }
      const creation = extractContext(record.headers, ROOT_CONTEXT);
      const span = tracer.startSpan(
        `${OPERATION.send} ${record.topic}`,
        {
          kind: trace.getSpanContext(creation) ? SpanKind.CLIENT : SpanKind.PRODUCER,
          attributes: {
            [MESSAGING.system]: system,
            [MESSAGING.operationType]: OPERATION.send,
            [MESSAGING.operationName]: OPERATION.send,
            [MESSAGING.destinationName]: record.topic,
            [state.keyAttribute]: record.key,
          },
        },
        creation,
      );
      spans.push(span);
      traced[i] = { ...record, headers: injectSpan(span, record.headers) };
    }
    try {
      await broker.publish(traced);
    } catch (error) {
      for (const span of spans) recordFailure(span, error);
      throw error;
    } finally {
      for (const span of spans) span.end();
    }
  };
  // methods bound once to the wrapped broker (what its own `this` expects), rebound if replaced
  const bound = new Map<PropertyKey, { readonly of: unknown; readonly method: unknown }>();
  return new Proxy(broker, {
    get(target, property) {
      if (property === 'publish') return publish;
      if (property === TRACED) return true;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let entry = bound.get(property);
      if (entry?.of !== value) bound.set(property, (entry = { of: value, method: value.bind(target) }));
      return entry.method;
    },
  });
}
