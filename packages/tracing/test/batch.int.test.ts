import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createApp, defineEvent, silentLogger } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTracing } from '../src/index.js';
import { isChildOf, named, only, recordSpans, waitFor } from './support.js';

const Ordered = defineEvent({ type: 'Ordered', topic: 'orders', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
const Paid = defineEvent({ type: 'Paid', topic: 'payments', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });

const recorder = recordSpans();
afterAll(() => recorder.sdk.shutdown());

/** The batch count of a span: `messaging.batch.message_count`, or 1 for a span of one message. */
const countOf = (span: { attributes: Record<string, unknown> }) => (span.attributes['messaging.batch.message_count'] as number | undefined) ?? 1;

describe('a batch handler traced', () => {
  let app: App<MemoryTx> | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    recorder.exporter.reset();
  });

  /** An app whose `ledger` group handles orders in batches (each whole batch failing, when asked) and publishes a payment per order. */
  /** The `traceparent` of each payment the `shipping` group handled. */
  const paid: (string | undefined)[] = [];
  afterEach(() => {
    paid.length = 0;
  });

  async function start(options: { failWholeBatches?: boolean; withoutCause?: boolean; before?: (app: App<MemoryTx>) => Promise<unknown> } = {}): Promise<App<MemoryTx>> {
    const tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    app = createApp<MemoryTx>(tracing.app({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, relay: { idleMs: 5 }, handlerDefaults: { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 } } }));
    app.onBatch(Ordered, { group: 'ledger' }, async (events, ctx) => {
      for (const event of events) await ctx.publish(Paid, { id: event.data.id }, options.withoutCause ? undefined : { cause: event });
      if (!ctx.alone && options.failWholeBatches) throw new Error('the whole batch fails');
    });
    app.on(Paid, { group: 'shipping' }, async (event) => {
      paid.push(event.headers['traceparent']);
    });
    await options.before?.(app);
    await app.start();
    await app.ready();
    return app;
  }

  it('gives the whole batch one process span under the send span, and the events it publishes create spans under that', async () => {
    const traced = await start();
    const tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    await traced.transaction((_tx, publish) => tracing.publish(publish).many(Ordered, [{ id: 'b-1' }, { id: 'b-2' }, { id: 'b-3' }]));
    await waitFor('three payments processed', () => recorder.spans().filter(named('process payments')).length === 3);
    const spans = recorder.spans();
    const send = spans.find(named('send orders'))!;
    expect(countOf(send)).toBe(3);
    const batches = spans.filter(named('process orders'));
    // the memory broker may hand the three records over in one batch or more: each a span, three events in all
    expect(batches.reduce((sum, s) => sum + countOf(s), 0)).toBe(3);
    for (const batch of batches) {
      expect(batch.kind).toBe(SpanKind.CONSUMER);
      expect(isChildOf(batch, send)).toBe(true);
      expect(batch.links).toEqual([]);
      expect(batch.attributes).toMatchObject({
        'messaging.operation.type': 'process',
        'messaging.destination.name': 'orders',
        'messaging.consumer.group.name': 'ledger',
        'herald.handler': expect.any(String),
      });
    }
    const creates = spans.filter(named('create payments'));
    expect(creates).toHaveLength(3);
    for (const create of creates) expect(batches.some((batch) => isChildOf(create, batch))).toBe(true);
    for (const process of spans.filter(named('process payments'))) {
      const sendPaid = spans.find((s) => s.name === 'send payments' && isChildOf(process, s));
      expect(sendPaid, 'process payments under a send payments span').toBeDefined();
      expect(creates.some((create) => isChildOf(sendPaid!, create))).toBe(true);
    }
  });

  it('links a batch of records from different traces instead of choosing one parent', async () => {
    const tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    // three transactions committed before the app starts: three create spans (three traces), one
    // relay round, and (one key, one partition) one batch of three for the consumer
    await start({
      before: (app) => Promise.all(['l-1', 'l-2', 'l-3'].map((id) => app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id }, { key: 'one-customer' })))),
    });
    await waitFor('three payments processed', () => recorder.spans().filter(named('process payments')).length === 3);
    const spans = recorder.spans();
    const sends = spans.filter(named('send orders'));
    expect(sends).toHaveLength(3);
    expect(new Set(sends.map((s) => s.spanContext().traceId)).size).toBe(3);
    const batch = only(spans, named('process orders'), 'the batch span');
    expect(countOf(batch)).toBe(3);
    // a root of its own, linked to the send span of each record
    expect(batch.parentSpanContext).toBeUndefined();
    expect(batch.links.map((l) => l.context.spanId).sort()).toEqual(sends.map((s) => s.spanContext().spanId).sort());
  });

  it('links only the sampled traces of a batch that mixes them with unsampled ones, and opens no span for a batch of unsampled ones', async () => {
    const context = (trace: string, flags: string) => `00-${trace.repeat(32)}-${'b7ad6b7169203331'}-${flags}`;
    const sampled = [context('1', '01'), context('2', '03')]; // a flag beside sampled: still sampled
    // unsampled, another flag set but not sampled, and one ending in a letter
    const unsampled = [context('3', '00'), context('4', '02'), context('5', '0a'), context('6', '00')];
    // one key, one partition, published before the app starts: the consumer's first batch holds them all
    const publishAll = (app: App<MemoryTx>, headers: readonly string[], prefix: string) =>
      app.transaction(async (_tx, publish) => {
        for (const [i, traceparent] of headers.entries()) await publish(Ordered, { id: `${prefix}-${i}` }, { key: 'one-customer', headers: { traceparent } });
      });
    await start({ before: (app) => publishAll(app, [unsampled[0]!, sampled[0]!, unsampled[1]!, unsampled[2]!, sampled[1]!, unsampled[3]!], 'mix') });
    await waitFor('six payments processed', () => recorder.spans().filter(named('process payments')).length === 6);
    const batch = only(recorder.spans(), named('process orders'), 'the batch span');
    expect(countOf(batch)).toBe(6);
    expect(batch.links.map((l) => l.context.traceId).sort()).toEqual(['1'.repeat(32), '2'.repeat(32)]);

    recorder.exporter.reset();
    await publishAll(app!, unsampled, 'quiet');
    await publishAll(app!, [sampled[0]!], 'after');
    // the sampled event published after the unsampled ones is processed after them (one partition)
    await waitFor('the sampled payment processed', () => recorder.spans().some((s) => named('process payments')(s) && s.spanContext().traceId === '1'.repeat(32)));
    const orders = recorder.spans().filter(named('process orders'));
    expect(orders.flatMap((s) => [s.spanContext().traceId, ...s.links.map((l) => l.context.traceId)]).every((id) => id === '1'.repeat(32))).toBe(true);
  });

  it('keeps what a batch of unsampled records publishes unsampled, though no cause names their trace', async () => {
    const unsampled = ['7', '8'].map((trace) => `00-${trace.repeat(32)}-b7ad6b7169203331-00`);
    await start({
      withoutCause: true,
      before: (app) =>
        app.transaction(async (_tx, publish) => {
          for (const [i, traceparent] of unsampled.entries()) await publish(Ordered, { id: `u-${i}` }, { key: 'one-customer', headers: { traceparent } });
        }),
    });
    await waitFor('two payments handled', () => paid.length === 2);
    // the first record's trace, still unsampled: downstream services record nothing of it either
    for (const traceparent of paid) expect(traceparent).toMatch(new RegExp(`^00-${'7'.repeat(32)}-[0-9a-f]{16}-00$`));
    expect(recorder.spans()).toEqual([]);
  });

  it('marks the batch span failed when the batch rolls back, and traces its events one by one after', async () => {
    const traced = await start({ failWholeBatches: true });
    const tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    await traced.transaction((_tx, publish) => tracing.publish(publish).many(Ordered, [{ id: 'f-1' }, { id: 'f-2' }]));
    await waitFor('two payments processed', () => recorder.spans().filter(named('process payments')).length === 2);
    const spans = recorder.spans().filter(named('process orders'));
    const failed = spans.filter((s) => s.status.code === SpanStatusCode.ERROR);
    // one span per whole batch (the memory broker hands over one or two), each failed
    expect(failed.reduce((sum, s) => sum + countOf(s), 0)).toBe(2);
    for (const span of failed) expect(span.attributes).toMatchObject({ 'error.type': 'Error', 'messaging.consumer.group.name': 'ledger' });
    // the one-by-one path: a process span per event, through the handler's pipeline
    const alone = spans.filter((s) => s.attributes['messaging.message.id'] !== undefined);
    expect(alone).toHaveLength(2);
    for (const span of alone) expect(span.attributes['herald.delivery.outcome']).toBe('applied');
    // the payments the failed batches published were rolled back: two payments processed, one each
    const committed = new Set(recorder.spans().filter(named('process payments')).map((s) => s.attributes['messaging.message.id']));
    expect(committed.size).toBe(2);
  });
});

describe('the embedded engine with its relay thread, traced', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tracing-relay-'));
  let app: App<SqlTx> | undefined;
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the relay on its thread and records its sends from what it reports, on the real SQLite files', async () => {
    recorder.exporter.reset();
    const tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    const engine = sqliteEngine({ dataDir: dir, relayThread: true });
    const options = tracing.app({ ...engine, name: 'relay-thread', relay: { idleMs: 5 } });
    expect(options.relayHost).toBeDefined();
    app = createApp<SqlTx>(options);
    app.on(Ordered, { group: 'billing' }, async () => {});
    await app.start();
    await app.ready();
    const before = Date.now();
    await app.transaction((_tx, publish) => tracing.publish(publish).many(Ordered, [{ id: 'r-1' }, { id: 'r-2' }]));
    await app.transaction((_tx, publish) => tracing.publish(publish)(Ordered, { id: 'r-3' }));
    // no creation context: the thread sends it as it is, so a send span would be a root no record carries
    await app.publish(Ordered, { id: 'r-4' });
    await waitFor('the orders processed', () => recorder.spans().filter(named('process orders')).length === 4);
    await waitFor('the sends recorded', () => recorder.spans().filter(named('send orders')).length === 2);
    const spans = recorder.spans();
    const creates = spans.filter(named('create orders'));
    const sends = spans.filter(named('send orders'));
    expect(creates).toHaveLength(2);
    // one send span per creation context, child of its create span, timed by the relay thread
    for (const create of creates) {
      const send = only(sends, (s) => isChildOf(s, create), `the send under ${create.name}`);
      expect(send.kind).toBe(SpanKind.CLIENT);
      expect(send.attributes['messaging.destination.name']).toBe('orders');
      expect(countOf(send)).toBe(countOf(create));
      expect(send.startTime[0] * 1000 + send.startTime[1] / 1e6).toBeGreaterThanOrEqual(before - 1);
      // the records kept their creation context: each process span is a child of its create span
      const processes = spans.filter((s) => s.name === 'process orders' && isChildOf(s, create));
      expect(processes).toHaveLength(countOf(create));
    }
    expect(sends).toHaveLength(2);
    // the event published without a context: one trace, its process span alone
    const orphan = only(spans, (s) => s.name === 'process orders' && s.parentSpanContext === undefined, 'the process span of r-4');
    expect(spans.filter((s) => s.spanContext().traceId === orphan.spanContext().traceId)).toEqual([orphan]);
  });
});
