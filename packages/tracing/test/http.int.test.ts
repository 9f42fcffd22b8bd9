import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createApp, defineEvent, HeraldError } from '@herald/core';
import type { App, Logger } from '@herald/core';
import { createGateway, type Gateway } from '@herald/http';
import { memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTracing } from '../src/index.js';
import { isChildOf, named, only, recordSpans, waitFor } from './support.js';

const Placed = defineEvent({ type: 'Placed', topic: 'orders', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
const REMOTE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

const recorder = recordSpans();
afterAll(() => recorder.sdk.shutdown());

describe('HTTP server spans through the gateway hook', () => {
  let app: App<MemoryTx>;
  let stores: MemoryStores;
  let gateway: Gateway<MemoryTx>;
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const capture = (base: Record<string, unknown>): Logger => {
    const log = (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields: { ...base, ...fields } });
    return { debug: log, info: log, warn: log, error: log, child: (fields) => capture({ ...base, ...fields }) };
  };

  beforeEach(async () => {
    recorder.exporter.reset();
    lines.length = 0;
    const tracing = createTracing({ tracerProvider: recorder.sdk.provider });
    stores = memoryStores();
    app = createApp<MemoryTx>(tracing.app({ broker: memoryBroker(), stores, logger: capture({}), relay: { idleMs: 5 } }));
    app.on(Placed, { group: 'billing' }, async () => {});
    gateway = createGateway<MemoryTx>({ app, tracing: tracing.http });
    gateway.command({
      method: 'POST',
      url: '/orders/:id',
      params: Type.Object({ id: Type.String() }),
      idempotency: 'off',
      status: 201,
      handle: async ({ params, publish }) => {
        if (params.id === 'boom') throw new Error('the till is on fire');
        if (params.id === 'taken') throw new HeraldError('conflict', 'taken');
        await publish(Placed, { id: params.id });
        return { id: params.id };
      },
    });
    await app.start();
  });
  afterEach(async () => {
    await gateway.close();
    await app.close();
  });

  const post = (id: string, headers: Record<string, string> = {}) => gateway.fastify.inject({ method: 'POST', url: `/orders/${id}?src=test`, headers: { 'user-agent': 'vitest', ...headers } });

  it('continues the caller’s trace: server span → create → send → process, the event carrying the create span', async () => {
    const res = await post('o-1', { traceparent: REMOTE, 'x-correlation-id': 'checkout-1' });
    expect(res.statusCode).toBe(201);
    await waitFor('the event to be processed', () => recorder.spans().some(named('process orders')));
    const spans = recorder.spans();
    const server = only(spans, named('POST /orders/:id'), 'server span');
    const create = only(spans, named('create orders'), 'create span');
    const send = only(spans, named('send orders'), 'send span');
    const process = only(spans, named('process orders'), 'process span');
    expect(server.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(server.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect([isChildOf(create, server), isChildOf(send, create), isChildOf(process, send)]).toEqual([true, true, true]);
    expect(server.attributes).toEqual({
      'http.request.method': 'POST',
      'http.route': '/orders/:id',
      'url.path': '/orders/o-1',
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
      'server.address': 'localhost',
      'server.port': 80,
      'client.address': '127.0.0.1',
      'user_agent.original': 'vitest',
      'http.response.status_code': 201,
    });
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    expect(create.attributes['messaging.message.conversation_id']).toBe('checkout-1');
    const [record] = await stores.outbox.findByCorrelation('checkout-1');
    expect(record!.headers['traceparent']).toBe(`00-${create.spanContext().traceId}-${create.spanContext().spanId}-01`);
    expect(lines.find((l) => l.msg === 'request completed')?.fields).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', correlationId: 'checkout-1' });
  });

  it('fails the span of a 5xx, not of a 4xx; a malformed traceparent starts a new trace; probes are not traced', async () => {
    expect((await post('boom', { traceparent: '00-not-a-trace-01' })).statusCode).toBe(500);
    expect((await post('taken')).statusCode).toBe(409);
    await gateway.fastify.inject({ method: 'GET', url: '/livez' });
    const [failed, refused] = recorder.spans().filter(named('POST /orders/:id'));
    expect(failed!.parentSpanContext).toBeUndefined();
    expect(failed!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'the till is on fire' });
    expect(failed!.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': '500' });
    expect(failed!.events.map((e) => e.name)).toEqual(['exception']);
    expect(refused!.status.code).toBe(SpanStatusCode.UNSET);
    expect(refused!.attributes['error.type']).toBeUndefined();
    expect(recorder.spans().map((s) => s.name)).toEqual(['POST /orders/:id', 'POST /orders/:id']);
  });

  it('follows a caller’s unsampled trace without spans, its events carrying the caller’s context', async () => {
    const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    expect((await post('o-2', { traceparent: unsampled, 'x-correlation-id': 'quiet-1' })).statusCode).toBe(201);
    const [record] = await stores.outbox.findByCorrelation('quiet-1');
    expect(record!.headers).toEqual({ traceparent: unsampled });
    let handled = false;
    await waitFor('the event to be handled', () => {
      void stores.inbox.findHandled([record!.id]).then((marks) => (handled = marks.length > 0));
      return handled;
    });
    expect(lines.find((l) => l.msg === 'request completed')?.fields['traceId']).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(recorder.spans()).toEqual([]);
  });

  it('names a span without a route by its method alone', async () => {
    expect((await gateway.fastify.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404);
    const span = only(recorder.spans(), named('GET'), 'unrouted span');
    expect(span.attributes['http.route']).toBeUndefined();
    expect(span.attributes['url.path']).toBe('/nowhere');
  });
});
