import { ROOT_CONTEXT, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { Broker, OutgoingRecord, RelayHost, RelaySent } from '@herald/core';
import { MESSAGING, OPERATION, SEND_CONTEXT_HEADER } from '../conventions.js';
import { contextOf, extractContext, formatTraceparent, injectSpan, isValidContext, sampledFlag } from './propagation.js';
import { recordFailure, type TracingState } from './spans.js';

const TRACED = Symbol('herald.tracedBroker');

/**
 * Wraps a broker so that the records of each publish get `send {topic}` spans, child of the
 * records' creation context (their `traceparent`, from a create span) — one span for the records
 * of a topic that share a creation context (a `publish.many` call, with
 * `messaging.batch.message_count`), else one per record — and travel with the send span's context
 * in a header of their own ({@link SEND_CONTEXT_HEADER}): the process span of each Herald consumer
 * is its child. The record's `traceparent` stays the creation context, as the conventions ask
 * when create spans exist. A record without a creation context gets a send span that starts its
 * trace (PRODUCER: it is then the creation context, injected as the record's `traceparent`); with
 * one, the send span is a CLIENT span. A record whose creation context is not sampled is sent as
 * it is.
 *
 * Everything else is the wrapped broker's: a Proxy forwards every other property, so optional
 * abilities (`ensureTopics`, `resetOffsets`, the inspector, and any added later) stay visible to
 * their type guards and run on the wrapped broker.
 */
export function tracedBroker<B extends Broker>(state: TracingState, broker: B): B {
  // wrapping twice would trace each send twice
  if ((broker as { [TRACED]?: boolean })[TRACED]) return broker;
  const publish = async function publishTraced(records: readonly OutgoingRecord[]): Promise<void> {
    // the records of one topic created together (one creation context: a publish.many call) share
    // one send span; a record without a creation context starts a trace of its own
    const groups = new Map<string, number[]>();
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const traceparent = record.headers?.['traceparent'];
      if (sampledFlag(traceparent) === 0) continue; // not sampled upstream: sent with its creation context, no span
      const group = traceparent === undefined ? `${i}` : `${record.topic}\u0000${traceparent}`;
      const members = groups.get(group);
      if (members) members.push(i);
      else groups.set(group, [i]);
    }
    const spans: Span[] = [];
    const traced: OutgoingRecord[] = groups.size === 0 ? (records as OutgoingRecord[]) : records.slice();
    for (const members of groups.values()) {
      const first = records[members[0]!]!;
      const span = startSendSpan(state, first.topic, first.key, extractContext(first.headers, ROOT_CONTEXT), members.length);
      spans.push(span);
      for (const i of members) traced[i] = { ...records[i]!, headers: withSendContext(span, records[i]!.headers) };
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

/**
 * A record's headers once sent under `span`: the send context in {@link SEND_CONTEXT_HEADER} beside
 * the creation context, or, for a record without one, as its `traceparent` (the send span is its
 * creation context then).
 */
function withSendContext(span: Span, headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const spanContext = span.spanContext();
  // a span no SDK made (a no-op tracer's): all zeros for a root, its parent's context under one
  if (!isValidContext(spanContext)) return { ...headers };
  const creation = headers?.['traceparent'];
  if (creation === undefined) {
    const injected = injectSpan(span, headers);
    delete injected[SEND_CONTEXT_HEADER];
    return injected;
  }
  if (creation.slice(36, 52) === spanContext.spanId) return { ...headers };
  return { ...headers, [SEND_CONTEXT_HEADER]: formatTraceparent(spanContext) };
}

/**
 * A `send {topic}` span: child of the records' creation context (a CLIENT span then, as the
 * conventions ask when create spans exist; else a PRODUCER span starting the trace).
 */
function startSendSpan(state: TracingState, topic: string, key: string, creation: Context, count: number, startTime?: number): Span {
  return state.tracer.startSpan(
    `${OPERATION.send} ${topic}`,
    {
      kind: trace.getSpanContext(creation) ? SpanKind.CLIENT : SpanKind.PRODUCER,
      attributes: {
        [MESSAGING.system]: state.system,
        [MESSAGING.operationType]: OPERATION.send,
        [MESSAGING.operationName]: OPERATION.send,
        [MESSAGING.destinationName]: topic,
        // a span of several records names no one key (the conventions keep per-message attributes off batch spans)
        ...(count === 1 ? { [state.keyAttribute]: key } : { [MESSAGING.batchMessageCount]: count }),
      },
      ...(startTime === undefined ? {} : { startTime }),
    },
    creation,
  );
}

/**
 * Wraps a relay host (the embedded engine's relay thread): its relay publishes with a broker of
 * its own, so its sends are recorded after the fact, from what it reports of each publish — one
 * send span per topic and creation context, with the publish's start and end times. The records
 * keep their creation context: the process spans of their consumers are children of the create
 * span, siblings of the send span. Records without a creation context get no send span there.
 */
export function tracedRelayHost(state: TracingState, host: RelayHost): RelayHost {
  return {
    createRelay: (options, deps) =>
      host.createRelay(options, {
        ...deps,
        onSent: (sent) => {
          recordSends(state, sent);
          deps.onSent?.(sent);
        },
      }),
  };
}

function recordSends(state: TracingState, sent: RelaySent): void {
  for (const group of sent.groups) {
    // unsampled: no span. Without a (valid) creation context the thread sent the records as they
    // are: a send span would start a trace no record carries, apart from their consumers' own
    if (sampledFlag(group.traceparent) !== 1) continue;
    const creation = contextOf(group.traceparent, group.tracestate);
    const span = startSendSpan(state, group.topic, group.key, creation, group.count, sent.startedAt);
    if (sent.error) recordFailure(span, sent.error);
    span.end(sent.endedAt);
  }
}
