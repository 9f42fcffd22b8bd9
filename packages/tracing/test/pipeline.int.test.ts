import { runInNewContext } from 'node:vm';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { createApp, defaultPipeline, defineErrorCodes, defineEvent, HeraldError, policyStep, redriveRecord, silentLogger } from '@herald/core';
import type { App, Logger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTracing, type Tracing } from '../src/index.js';
import { recordFailure } from '../src/internal/spans.js';
import { isChildOf, named, only, recordSpans, waitFor } from './support.js';

const Ordered = defineEvent({ type: 'Ordered', topic: 'orders', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
const Paid = defineEvent({ type: 'Paid', topic: 'payments', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
const { specs: TestErrors } = defineErrorCodes({
  flaky: { code: 'test-flaky', retriable: true, meaning: 'a transient failure the test injects', action: 'none' },
  refused: { code: 'test-refused', retriable: false, meaning: 'a final failure the test injects', action: 'none' },
});

// with a context manager: the process span is then the handler's active span
const recorder = recordSpans({ activeContext: true });
afterAll(() => recorder.sdk.shutdown());

interface Line {
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}
function captureLogger(lines: Line[], base: Record<string, unknown> = {}): Logger {
  const log = (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields: { ...base, ...fields } });
  return { debug: log, info: log, warn: log, error: log, child: (fields) => captureLogger(lines, { ...base, ...fields }) };
}

describe('create, send and process spans through the pipeline', () => {
  let tracing: Tracing;
  let app: App<MemoryTx>;
  /** The app's broker unwrapped: what `herald dlq redrive` publishes with (no send spans). */
  let untraced: ReturnType<typeof memoryBroker>;
  let lines: Line[];
  /** What the billing handler does per order id: fail this many times first, or refuse for good. */
  const plan = new Map<string, { failures: number; refuse?: boolean; cause?: Error }>();
  const activeInHandler = new Map<string, string | undefined>();

  beforeEach(async () => {
    recorder.exporter.reset();
    lines = [];
    tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    untraced = memoryBroker();
    app = createApp<MemoryTx>(
      tracing.app({
        broker: untraced,
        stores: memoryStores(),
        logger: captureLogger(lines),
        relay: { idleMs: 5 },
        handlerDefaults: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 } },
      }),
    );
    app.on(Ordered, { group: 'billing' }, async (event, ctx) => {
      activeInHandler.set(event.data.id, trace.getActiveSpan()?.spanContext().spanId);
      ctx.logger.info('billing', { id: event.data.id });
      await ctx.publish(Paid, { id: event.data.id });
      const step = plan.get(event.data.id);
      if (step?.refuse) throw new HeraldError(TestErrors.refused, `order ${event.data.id} refused`, step.cause ? { cause: step.cause } : undefined);
      if (step && step.failures-- > 0) throw new HeraldError(TestErrors.flaky, `order ${event.data.id} failed once`);
    });
    app.on(Paid, { group: 'shipping' }, async () => {});
    await app.start();
    await app.ready();
  });
  afterEach(() => app.close());

  const spansOf = (traceId: string) => recorder.spans().filter((s) => s.spanContext().traceId === traceId);

  it('runs one trace: create → send → process → create → send → process, with the messaging attributes', async () => {
    const envelope = await app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'o-1' }));
    await waitFor('the payment to be processed', () => recorder.spans().some((s) => s.name === 'process payments'));
    const create = only(recorder.spans(), named('create orders'), 'create orders');
    const spans = spansOf(create.spanContext().traceId);
    const send = only(spans, named('send orders'), 'send orders');
    const process = only(spans, named('process orders'), 'process orders');
    const createPaid = only(spans, named('create payments'), 'create payments');
    const sendPaid = only(spans, named('send payments'), 'send payments');
    const processPaid = only(spans, named('process payments'), 'process payments');
    expect(spans).toHaveLength(6);

    expect(create.parentSpanContext).toBeUndefined();
    expect([isChildOf(send, create), isChildOf(process, send), isChildOf(createPaid, process), isChildOf(sendPaid, createPaid), isChildOf(processPaid, sendPaid)]).toEqual([true, true, true, true, true]);
    expect([create, send, process].map((s) => s.kind)).toEqual([SpanKind.PRODUCER, SpanKind.CLIENT, SpanKind.CONSUMER]);
    expect(process.links.map((l) => l.context.spanId)).toEqual([create.spanContext().spanId]);

    expect(create.attributes).toEqual({
      'messaging.system': 'herald',
      'messaging.operation.type': 'create',
      'messaging.operation.name': 'create',
      'messaging.destination.name': 'orders',
      'messaging.message.id': envelope.id,
      'messaging.message.conversation_id': envelope.correlationId,
      'messaging.herald.message.key': 'o-1',
      'herald.event.type': 'Ordered',
    });
    expect(send.attributes).toEqual({
      'messaging.system': 'herald',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': 'orders',
      'messaging.herald.message.key': 'o-1',
    });
    expect(process.attributes).toEqual({
      'messaging.system': 'herald',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'orders',
      'messaging.destination.partition.id': expect.stringMatching(/^[0-3]$/),
      'messaging.consumer.group.name': 'billing',
      'messaging.message.id': envelope.id,
      'messaging.message.conversation_id': envelope.correlationId,
      'messaging.herald.message.key': 'o-1',
      'messaging.herald.offset': 0,
      'herald.event.type': 'Ordered',
      'herald.handler': 'billing:Ordered',
      'herald.delivery.outcome': 'applied',
      'herald.delivery.attempts': 1,
    });
    expect(createPaid.attributes['messaging.message.conversation_id']).toBe(envelope.correlationId);
    expect(processPaid.attributes['messaging.consumer.group.name']).toBe('shipping');
    expect(process.status.code).toBe(SpanStatusCode.UNSET);

    // the process span is the handler's active span, and its log lines carry the trace
    expect(activeInHandler.get('o-1')).toBe(process.spanContext().spanId);
    expect(lines.find((l) => l.msg === 'billing')?.fields).toMatchObject({ traceId: process.spanContext().traceId, spanId: process.spanContext().spanId });
  });

  it('keeps one process span across retries: each failed attempt is an event, each attempt its create span', async () => {
    plan.set('o-2', { failures: 1 });
    await app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'o-2' }));
    await waitFor('the payment to be processed', () => recorder.spans().some((s) => s.name === 'process payments'));
    const process = only(recorder.spans(), named('process orders'), 'process orders');
    expect(process.attributes).toMatchObject({ 'herald.delivery.outcome': 'applied', 'herald.delivery.attempts': 2 });
    expect(process.status.code).toBe(SpanStatusCode.UNSET);
    expect(process.events.map((e) => ({ name: e.name, ...e.attributes }))).toEqual([
      { name: 'exception', 'exception.type': 'test-flaky', 'exception.message': 'order o-2 failed once', 'exception.stacktrace': expect.stringContaining('HeraldError'), 'herald.delivery.attempt': 1 },
    ]);
    const creates = recorder.spans().filter((s) => s.name === 'create payments');
    expect(creates.map((c) => isChildOf(c, process))).toEqual([true, true]);
    // the first attempt rolled back: only the second one's event reached the broker
    const send = only(recorder.spans(), named('send payments'), 'send payments');
    expect(creates.filter((c) => isChildOf(send, c))).toHaveLength(1);
  });

  it('records an attempt that timed out as an exception event too', async () => {
    const own = createApp<MemoryTx>(
      tracing.app({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, relay: { idleMs: 5 }, handlerDefaults: { timeoutMs: 300, retry: { maxAttempts: 3, initialDelayMs: 700, maxDelayMs: 700, jitter: 0 } } }),
    );
    let runs = 0;
    own.on(Ordered, { group: 'slow' }, async () => {
      // the first attempt outlives its timeout, ignoring its signal: the handler itself succeeds
      if (runs++ === 0) await new Promise((resolve) => setTimeout(resolve, 600));
    });
    try {
      await own.start();
      await own.ready();
      await own.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'slow-1' }));
      await waitFor('the order processed', () => recorder.spans().some(named('process orders')));
      const process = only(recorder.spans(), named('process orders'), 'process orders');
      expect(process.attributes).toMatchObject({ 'herald.delivery.outcome': 'applied', 'herald.delivery.attempts': 2 });
      expect(process.events.map((e) => ({ name: e.name, type: e.attributes?.['exception.type'], attempt: e.attributes?.['herald.delivery.attempt'] }))).toEqual([
        { name: 'exception', type: 'timeout', attempt: 1 },
      ]);
    } finally {
      await own.close();
    }
  });

  it('marks a dead-lettered delivery as failed, with the error code as error.type', async () => {
    plan.set('o-3', { failures: 0, refuse: true });
    await app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'o-3' }));
    await waitFor('the order to be dead-lettered', () => recorder.spans().some((s) => s.name === 'process orders'));
    const process = only(recorder.spans(), named('process orders'), 'process orders');
    expect(process.status).toEqual({ code: SpanStatusCode.ERROR, message: 'order o-3 refused' });
    expect(process.attributes).toMatchObject({ 'error.type': 'test-refused', 'herald.delivery.outcome': 'dead-lettered', 'herald.delivery.attempts': 1 });
    expect((await app.deadLetters()).map((d) => d.reason)).toEqual(['test-refused']);
  });

  it('records the cause chain in the exception, with credentials redacted in it and in the status', async () => {
    const driver = new Error('password authentication failed for postgres://app:s3cret-pw@db:5432/orders', { cause: new Error('sent Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123') });
    plan.set('o-4', { failures: 0, refuse: true, cause: driver });
    await app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'o-4' }));
    await waitFor('the order to be dead-lettered', () => recorder.spans().some((s) => s.name === 'process orders'));
    const process = only(recorder.spans(), named('process orders'), 'process orders');
    const [exception] = process.events.filter((e) => e.name === 'exception');
    const stack = String(exception?.attributes?.['exception.stacktrace']);
    expect(stack).toMatch(/^HeraldError: order o-4 refused\n/);
    expect(stack).toContain('\nCaused by: Error: password authentication failed for postgres://app:[redacted]@db:5432/orders\n');
    expect(stack).toContain('\nCaused by: Error: sent Authorization: Bearer [redacted]\n');
    expect(stack).not.toMatch(/s3cret|abcdefghijklmnop/);
    expect(exception?.attributes).toMatchObject({ 'exception.type': 'test-refused', 'exception.message': 'order o-4 refused' });

    // a cause that is no Error: a plain object as JSON, one without a prototype as well, never a throw
    const odd = Object.assign(Object.create(null) as object, { code: 'E42' });
    const chained = new HeraldError(TestErrors.refused, 'odd causes', { cause: new Error('wrapped', { cause: odd }) });
    const oddSpan = recorder.sdk.provider.getTracer('t').startSpan('odd');
    recordFailure(oddSpan, chained);
    recordFailure(oddSpan, { status: 503 });
    oddSpan.end();
    const oddEvents = only(recorder.spans(), named('odd'), 'odd').events;
    expect(String(oddEvents[0]?.attributes?.['exception.stacktrace'])).toMatch(/\nCaused by: Error: wrapped\n[^]*\nCaused by: \{"code":"E42"\}$/);
    expect(oddEvents[1]?.attributes).toEqual({ 'exception.type': '_OTHER', 'exception.message': '{"status":503}' });
    // an Error of another realm is an Error; a thrown payload is cut, not shipped whole
    const foreign = runInNewContext('new TypeError("from a vm context")') as Error;
    const otherSpan = recorder.sdk.provider.getTracer('t').startSpan('other');
    recordFailure(otherSpan, foreign);
    recordFailure(otherSpan, { payload: 'x'.repeat(100_000) });
    otherSpan.end();
    const [realm, payload] = only(recorder.spans(), named('other'), 'other').events;
    expect(realm?.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'from a vm context' });
    expect(String(payload?.attributes?.['exception.message']).length).toBe(2_049);

    const leaky = new HeraldError(TestErrors.refused, 'no route to postgres://app:s3cret-pw@db/orders');
    const span = recorder.sdk.provider.getTracer('t').startSpan('leaky');
    recordFailure(span, leaky);
    span.end();
    const ended = only(recorder.spans(), named('leaky'), 'leaky');
    expect(ended.status.message).toBe('no route to postgres://app:[redacted]@db/orders');
    expect(ended.events[0]?.attributes?.['exception.message']).toBe('no route to postgres://app:[redacted]@db/orders');
  });

  it('parents a redrive, in the app or through the log, on the creation context, not on the first delivery’s send span', async () => {
    for (const id of ['r-1', 'r-2']) plan.set(id, { failures: 0, refuse: true });
    await app.transaction((_tx, publish) => tracing.publish(publish).many(Ordered, [{ id: 'r-1' }, { id: 'r-2' }]));
    await waitFor('both orders dead-lettered', () => recorder.spans().filter(named('process orders')).length === 2 && recorder.spans().some(named('send orders')));
    expect(await app.deadLetters()).toHaveLength(2);
    const create = only(recorder.spans(), named('create orders'), 'create orders');
    const send = only(recorder.spans(), named('send orders'), 'send orders');
    plan.clear();
    recorder.exporter.reset();
    const letters = await app.deadLetters();
    // r-1 through the log, as the CLI does (its broker traces nothing); r-2 in the app
    await untraced.publish(letters.filter((l) => l.key === 'r-1').map((letter) => redriveRecord(letter, 'run-1')));
    await waitFor('r-1 redriven', () => recorder.spans().some(named('process orders')));
    expect((await app.redrive({ group: 'billing', key: 'r-2' })).redriven).toBe(1);
    const redriven = recorder.spans().filter(named('process orders'));
    expect(redriven).toHaveLength(2);
    for (const process of redriven) {
      expect(isChildOf(process, create)).toBe(true);
      expect(isChildOf(process, send)).toBe(false);
      expect(process.links).toEqual([]);
      expect(process.attributes).toMatchObject({ 'herald.delivery.redrive': true, 'herald.delivery.outcome': 'applied' });
    }
  });

  it('carries the context a timer was scheduled in to the event it publishes when due', async () => {
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const request = tracing.http.start({ method: 'POST', url: '/refunds', route: '/refunds', headers: { traceparent: incoming }, scheme: 'http', remoteAddress: undefined, serverAddress: undefined, serverPort: undefined, httpVersion: '1.1' });
    await app.transaction((_tx, publish) => request.publish(publish).schedule(Paid, { id: 't-1' }, { afterMs: 1 }));
    request.end({ statusCode: 202 });
    await waitFor('the scheduled payment processed', () => recorder.spans().some(named('process payments')));
    const server = only(recorder.spans(), named('POST /refunds'), 'the server span');
    // no create span (the event is created when due); its send span is a child of the request's
    expect(recorder.spans().filter(named('create payments'))).toEqual([]);
    const send = only(recorder.spans(), named('send payments'), 'send payments');
    expect(isChildOf(send, server)).toBe(true);
    expect(isChildOf(only(recorder.spans(), named('process payments'), 'process payments'), send)).toBe(true);
  });

  it('starts the trace at the send span when the event has no creation context, and keeps a custom one', async () => {
    await app.publish(Ordered, { id: 'o-4' });
    const custom = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'o-5' }, { headers: { traceparent: custom } }));
    await waitFor('both payments', () => recorder.spans().filter((s) => s.name === 'process payments').length === 2);
    const sends = recorder.spans().filter((s) => s.name === 'send orders');
    const root = only(sends, (s) => s.parentSpanContext === undefined, 'root send');
    expect(root.kind).toBe(SpanKind.PRODUCER);
    const underCustom = only(sends, (s) => s.spanContext().traceId === '0af7651916cd43dd8448eb211c80319c', 'send under the custom context');
    expect(underCustom.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(underCustom.kind).toBe(SpanKind.CLIENT);
    expect(recorder.spans().filter((s) => s.name === 'create orders')).toEqual([]);
    const processRoot = only(recorder.spans(), (s) => s.name === 'process orders' && isChildOf(s, root), 'process under the root send');
    expect(processRoot.links).toEqual([]);
  });

  it('gives a publish.many call one create span, the creation context of each of its events', async () => {
    const envelopes = await app.transaction((_tx, publish) => tracing.publish(publish).many(Ordered, [{ id: 'm-1' }, { id: 'm-2' }, { id: 'm-3' }]));
    await waitFor('the three payments', () => recorder.spans().filter((s) => s.name === 'process payments').length === 3);
    const create = only(recorder.spans(), (s) => s.name === 'create orders' && s.parentSpanContext === undefined, 'the batch create span');
    expect(create.kind).toBe(SpanKind.PRODUCER);
    expect(create.attributes).toMatchObject({ 'messaging.batch.message_count': 3, 'messaging.destination.name': 'orders' });
    expect(new Set(envelopes.map((e) => e.headers['traceparent']))).toEqual(new Set([`00-${create.spanContext().traceId}-${create.spanContext().spanId}-01`]));
    // committed together, relayed together: one send span for the three records, child of the create span
    const send = only(recorder.spans(), named('send orders'), 'the batch send span');
    expect(isChildOf(send, create)).toBe(true);
    expect(send.kind).toBe(SpanKind.CLIENT);
    expect(send.attributes['messaging.batch.message_count']).toBe(3);
    expect(send.attributes['messaging.herald.message.key']).toBeUndefined();
    const processes = recorder.spans().filter((s) => s.name === 'process orders');
    expect(processes).toHaveLength(3);
    for (const process of processes) expect(isChildOf(process, send)).toBe(true);
  });
});

describe('below an unsampled parent', () => {
  it('opens no span, and carries the parent’s context from event to event', async () => {
    recorder.exporter.reset();
    const tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    const lines: Line[] = [];
    const stores = memoryStores();
    const app = createApp<MemoryTx>(tracing.app({ broker: memoryBroker(), stores, logger: captureLogger(lines), relay: { idleMs: 5 } }));
    app.on(Ordered, { group: 'billing' }, async (event, ctx) => {
      ctx.logger.info('billing');
      await ctx.publish(Paid, { id: event.data.id });
    });
    let paidHeaders: Readonly<Record<string, string>> | undefined;
    app.on(Paid, { group: 'shipping' }, async (event) => {
      paidHeaders = event.headers;
    });
    await app.start();
    try {
      const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
      await app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'o-6' }, { headers: { traceparent: unsampled } }));
      await waitFor('the payment to be handled', () => paidHeaders !== undefined);
      expect(paidHeaders).toEqual({ traceparent: unsampled });
      expect(lines.find((l) => l.msg === 'billing')?.fields['traceId']).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(recorder.spans()).toEqual([]);
    } finally {
      await app.close();
    }
  });
  it('for a root the sampler drops: no span, and its events carry the dropped context on', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ sampler: new TraceIdRatioBasedSampler(0), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracing = createTracing({ tracerProvider: provider });
    const app = createApp<MemoryTx>(tracing.app({ broker: memoryBroker(), stores: memoryStores(), relay: { idleMs: 5 } }));
    const seen = new Map<string, Readonly<Record<string, string>>>();
    app.on(Ordered, { group: 'billing' }, async (event, ctx) => void (await ctx.publish(Paid, { id: event.data.id })));
    app.on(Paid, { group: 'shipping' }, async (event) => void seen.set(event.data.id, event.headers));
    await app.start();
    try {
      // one published alone (a root), three in one call (one root for the call)
      const single = await tracing.publish(app.publish)(Ordered, { id: 'o-7' });
      const many = await app.transaction((_tx, publish) => tracing.publish(publish).many(Ordered, [{ id: 'o-8' }, { id: 'o-9' }, { id: 'o-10' }]));
      expect(single.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      expect(new Set(many.map((e) => e.headers['traceparent'])).size).toBe(1);
      expect(many[0]!.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      expect(many[0]!.headers['traceparent']).not.toBe(single.headers['traceparent']);
      await waitFor('the payments to be handled', () => seen.size === 4);
      // the trace goes on unsampled from cause to effect: nothing downstream samples it again
      expect(seen.get('o-7')).toEqual({ traceparent: single.headers['traceparent'] });
      expect(seen.get('o-10')).toEqual({ traceparent: many[0]!.headers['traceparent'] });
      expect(exporter.getFinishedSpans()).toEqual([]);
    } finally {
      await app.close();
      await provider.shutdown();
    }
  });
});

describe('the pipeline edit and the app options', () => {
  const tracing = createTracing({ tracerProvider: recorder.sdk.provider });

  it('adds trace after correlation, traceAttempt inside retry and tracePublish inside transaction, once', () => {
    const edited = tracing.pipeline(defaultPipeline());
    expect(edited.names()).toEqual(['correlation', 'trace', 'instrument', 'deadLetter', 'retry', 'traceAttempt', 'timeout', 'recover', 'transaction', 'tracePublish', 'inbox']);
    expect(tracing.pipeline(edited).names()).toEqual(edited.names());
    expect(tracing.pipeline(defaultPipeline().remove('correlation').remove('transaction').remove('inbox')).names()).toEqual(['trace', 'instrument', 'deadLetter', 'retry', 'traceAttempt', 'timeout', 'recover']);
    expect(tracing.pipeline(defaultPipeline().remove('retry')).names()).toEqual(['correlation', 'trace', 'traceAttempt', 'instrument', 'deadLetter', 'timeout', 'recover', 'transaction', 'tracePublish', 'inbox']);
  });

  it("applies the app's own pipeline edit first, and wraps the broker once", () => {
    const audit = policyStep<MemoryTx>('audit', (next) => next);
    const broker = memoryBroker();
    const options = tracing.app({ broker, stores: memoryStores(), pipeline: (p) => p.append(audit) });
    expect(options.pipeline!(defaultPipeline()).names()).toEqual(['correlation', 'trace', 'instrument', 'deadLetter', 'retry', 'traceAttempt', 'timeout', 'recover', 'transaction', 'tracePublish', 'inbox', 'audit']);
    expect(options.broker).not.toBe(broker);
    expect(tracing.broker(options.broker)).toBe(options.broker);
  });

  it('refuses a messaging system that is not a lowercase name', () => {
    expect(() => createTracing({ messagingSystem: 'Kafka Cluster' })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });
});
