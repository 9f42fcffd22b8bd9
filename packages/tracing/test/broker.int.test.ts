import { canEnsureTopics, canInspect, canResetOffsets, type Broker, type DeliveryBatch } from '@herald/core';
import { describeBrokerConformance, describeBrokerInspectorConformance, memoryBroker, type MemoryBroker } from '@herald/testing';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { createTracing } from '../src/index.js';
import { named, only, recordSpans, waitFor } from './support.js';

const recorder = recordSpans();
afterAll(() => recorder.sdk.shutdown());
const tracing = createTracing({ tracerProvider: recorder.sdk.provider });

// The traced broker is still a broker: the whole suite, on traced members of one memory log.
describeBrokerConformance({
  name: 'traced memoryBroker',
  guarantees: ['per-key-order', 'consumer-groups', 'replay', 'rebalance', 'persistence'],
  partitions: 3,
  skip: [
    {
      test: 'round-trips headers and timestamps',
      reason: 'by design the traced broker replaces `traceparent` with its send span; the other headers and timestamps round-trip (tracing broker.int.test.ts)',
    },
  ],
  create: async () => {
    const log = memoryBroker({ partitions: 3 });
    let current: Broker = tracing.broker(log.connect());
    return {
      broker: current,
      newMember: async () => tracing.broker(log.connect()),
      kill: (member) => (member as MemoryBroker).crash(),
      reopen: async () => {
        await current.close();
        return (current = tracing.broker(log.connect()));
      },
      cleanup: async () => {
        await current.close();
        await log.close();
      },
    };
  },
});

describeBrokerInspectorConformance({
  name: 'traced memoryBroker',
  guarantees: ['partition-growth'],
  create: async () => {
    const broker = memoryBroker({ partitions: 4 });
    return { broker: tracing.broker(broker), newMember: async () => tracing.broker(broker.connect()) };
  },
});

describe('the traced broker', () => {
  it('keeps the optional abilities of the broker it wraps, and only them', () => {
    const traced = tracing.broker(memoryBroker());
    expect([canEnsureTopics(traced), canResetOffsets(traced), canInspect(traced)]).toEqual([true, true, true]);
    const bare: Broker = { publish: async () => {}, subscribe: async () => ({ commit: async () => {}, close: async () => {} }), close: async () => {} };
    const tracedBare = tracing.broker(bare);
    expect([canEnsureTopics(tracedBare), canResetOffsets(tracedBare), canInspect(tracedBare)]).toEqual([false, false, false]);
  });

  it('sends each record under a send span, child of its creation context, which the consumer receives beside the creation context', async () => {
    recorder.exporter.reset();
    const broker = tracing.broker(memoryBroker({ partitions: 2 }));
    const received: DeliveryBatch[] = [];
    const subscription = await broker.subscribe(
      { group: 'g', topics: ['t'] },
      { deliver: async (batch) => void received.push(batch), revoked: async () => {} },
    );
    const creation = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await broker.publish([
      { topic: 't', key: 'k1', value: 'v1', headers: { traceparent: creation, tracestate: 'vendor=x', 'x-tenant': 'acme' }, timestamp: 1234 },
      { topic: 't', key: 'k2', value: 'v2' },
    ]);
    await waitFor('both records', () => received.flatMap((b) => b.deliveries).length === 2);
    await subscription.close();
    await broker.close();

    const send1 = only(recorder.spans(), (s) => s.attributes['messaging.herald.message.key'] === 'k1', 'send of k1');
    const send2 = only(recorder.spans(), (s) => s.attributes['messaging.herald.message.key'] === 'k2', 'send of k2');
    expect(send1.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(send1.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(send2.parentSpanContext).toBeUndefined();
    const byKey = new Map(received.flatMap((b) => b.deliveries).map((d) => [d.key, d]));
    expect(byKey.get('k1')).toMatchObject({
      value: 'v1',
      timestamp: 1234,
      // the creation context stays the record's traceparent (the conventions' choice with create spans); the send span has a header of its own
      headers: { traceparent: creation, 'herald-send-traceparent': `00-${send1.spanContext().traceId}-${send1.spanContext().spanId}-01`, tracestate: 'vendor=x', 'x-tenant': 'acme' },
    });
    expect(byKey.get('k2')!.headers).toEqual({ traceparent: `00-${send2.spanContext().traceId}-${send2.spanContext().spanId}-01` });
  });

  it('fails every send span of a publish that fails, and rethrows', async () => {
    recorder.exporter.reset();
    const failing: Broker = {
      publish: async () => {
        throw Object.assign(new Error('broker down'), { code: 'broker-unavailable' });
      },
      subscribe: async () => ({ commit: async () => {}, close: async () => {} }),
      close: async () => {},
    };
    await expect(tracing.broker(failing).publish([{ topic: 't', key: 'a', value: '1' }, { topic: 't', key: 'b', value: '2' }])).rejects.toThrow('broker down');
    const spans = recorder.spans().filter(named('send t'));
    expect(spans.map((s) => [s.status, s.attributes['error.type'], s.events.map((e) => e.name)])).toEqual([
      [{ code: SpanStatusCode.ERROR, message: 'broker down' }, 'broker-unavailable', ['exception']],
      [{ code: SpanStatusCode.ERROR, message: 'broker down' }, 'broker-unavailable', ['exception']],
    ]);
    // two records without a creation context: two traces, each starting at its send span
    expect(spans.map((s) => s.parentSpanContext)).toEqual([undefined, undefined]);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(2);
  });
});
