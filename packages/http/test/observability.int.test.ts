import { adjustPublish, createApp, HeraldError, ValidationError } from '@herald/core';
import type { App, Publish } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, METRICS_PATH, type Gateway, type GatewayMetrics, type RequestTrace, type RequestTracer, type TracedRequest } from '../src/index.js';
import { captureLogger, OrderPlaced, type Line } from './support.js';

/** A tracer that records what the gateway tells it, with no tracing library behind it. */
function recordingTracer() {
  const started: TracedRequest[] = [];
  const ended: { traceId: string; statusCode: number | undefined; error: unknown }[] = [];
  const ran: string[] = [];
  let n = 0;
  const tracer: RequestTracer = {
    start(request) {
      started.push(request);
      const traceId = (++n).toString(16).padStart(32, '0');
      const trace: RequestTrace = {
        traceId,
        run: (work) => {
          ran.push(traceId);
          return work();
        },
        publish: (publish: Publish): Publish =>
          adjustPublish(publish, (options) => ({ ...options, headers: { ...options.headers, traceparent: `00-${traceId}-00000000000000aa-01` } })),
        end: ({ statusCode, error }) => void ended.push({ traceId, statusCode, error }),
      };
      return trace;
    },
  };
  return { tracer, started, ended, ran };
}

/** Metrics that serve a fixed exposition, for Prometheus to scrape. */
const exposition: GatewayMetrics = {
  observeRequest: () => {},
  scrape: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'herald_events_relayed_total 0\n' }),
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('correlation ids, request logs and the tracing hook', () => {
  let app: App<MemoryTx>;
  let stores: MemoryStores;
  let gateway: Gateway<MemoryTx>;
  let lines: Line[];
  afterEach(async () => {
    await gateway.close();
    await app.close();
  });

  function setUp(options: { readonly tracer?: RequestTracer; readonly metrics?: GatewayMetrics } = {}) {
    lines = [];
    stores = memoryStores();
    app = createApp<MemoryTx>({ broker: memoryBroker(), stores, logger: captureLogger(lines) });
    gateway = createGateway<MemoryTx>({ app, ...(options.tracer ? { tracing: options.tracer } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) });
    let next = 0;
    gateway.command({
      method: 'POST',
      url: '/orders',
      body: Type.Object({ item: Type.String() }),
      idempotency: 'optional',
      status: 201,
      handle: async ({ body, publish, logger, correlationId }) => {
        const orderId = `o-${++next}`;
        await publish(OrderPlaced, { orderId, item: body.item });
        if (body.item === 'named') await publish(OrderPlaced, { orderId: `${orderId}-b`, item: body.item }, { correlationId: 'the-route-decides' });
        logger.info('order placed', { orderId });
        if (body.item === 'boom') throw new Error('the warehouse is on fire');
        return { orderId, correlationId };
      },
    });
    gateway.query({
      url: '/orders/:id',
      params: Type.Object({ id: Type.String() }),
      handle: async ({ params, correlationId }) => {
        if (params.id === 'none') throw new HeraldError('not-found', `order ${params.id} does not exist`);
        return { id: params.id, correlationId };
      },
    });
  }

  const post = (item: string, headers: Record<string, string> = {}) =>
    gateway.fastify.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ item }) });
  const outboxOf = async (correlationId: string) => stores.outbox.findByCorrelation(correlationId);

  it("puts the client's X-Correlation-Id on the events the request publishes and returns it", async () => {
    setUp();
    const res = await post('book', { 'x-correlation-id': 'checkout-42' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['x-correlation-id']).toBe('checkout-42');
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(res.json()).toEqual({ orderId: 'o-1', correlationId: 'checkout-42' });
    expect((await outboxOf('checkout-42')).map((r) => r.key)).toEqual(['o-1']);
  });

  it('uses the request id as the correlation id when none is sent, and lets a route name its own', async () => {
    setUp();
    const res = await post('named');
    const requestId = res.headers['x-request-id'] as string;
    expect(requestId).toMatch(UUID);
    expect(res.headers['x-correlation-id']).toBe(requestId);
    expect((await outboxOf(requestId)).map((r) => r.key)).toEqual(['o-1']);
    expect((await outboxOf('the-route-decides')).map((r) => r.key)).toEqual(['o-1-b']);
    const query = await gateway.fastify.inject({ method: 'GET', url: '/orders/o-1', headers: { 'x-correlation-id': 'look-1' } });
    expect(query.json()).toEqual({ id: 'o-1', correlationId: 'look-1' });
  });

  it('answers 400 correlation-id-invalid for a bad X-Correlation-Id, before any work, and still names the request', async () => {
    setUp();
    for (const bad of ['has space', 'x'.repeat(129), '', 'caf\u00e9']) {
      const res = await post('book', { 'x-correlation-id': bad });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'correlation-id-invalid', status: 400 });
      expect(res.headers['x-correlation-id']).toBe(res.headers['x-request-id']);
    }
    const twice = await gateway.fastify.inject({ method: 'GET', url: '/orders/o-1', headers: { 'x-correlation-id': ['a', 'b'] } });
    expect(twice.json()).toMatchObject({ code: 'correlation-id-invalid' });
    expect(await stores.outbox.claim({ relayId: 'r', limit: 10, leaseMs: 1000 })).toEqual([]);
    expect(lines.filter((l) => l.msg === 'order placed')).toEqual([]);
  });

  it('logs one line per request with its ids, gives routes a logger with them, and logs probes and metrics scrapes at debug', async () => {
    setUp({ metrics: exposition });
    const res = await post('book', { 'x-correlation-id': 'flow-7' });
    const requestId = res.headers['x-request-id'];
    const ids = { requestId, correlationId: 'flow-7' };
    expect(lines.find((l) => l.msg === 'order placed')?.fields).toEqual({ ...ids, orderId: 'o-1' });
    const completed = lines.filter((l) => l.msg === 'request completed');
    expect(completed).toEqual([
      { level: 'info', msg: 'request completed', fields: { ...ids, method: 'POST', url: '/orders', route: '/orders', statusCode: 201, durationMs: expect.any(Number) } },
    ]);
    await gateway.fastify.inject({ method: 'GET', url: '/livez' });
    // Prometheus scrapes every 15 s: at info, its lines would outnumber the requests'
    expect((await gateway.fastify.inject({ method: 'GET', url: METRICS_PATH })).statusCode).toBe(200);
    expect(lines.filter((l) => l.msg === 'request completed').map((l) => [l.level, l.fields['url']])).toEqual([
      ['info', '/orders'],
      ['debug', '/livez'],
      ['debug', '/metrics'],
    ]);
  });

  it('logs a failed request with its ids and the error, and fastify itself logs through the same logger', async () => {
    setUp();
    const res = await post('boom', { 'x-correlation-id': 'flow-9' });
    expect(res.statusCode).toBe(500);
    const failure = lines.find((l) => l.msg === 'http: request failed')!;
    expect(failure.level).toBe('error');
    expect(failure.fields).toMatchObject({ requestId: res.headers['x-request-id'], correlationId: 'flow-9', url: '/orders' });
    expect((failure.fields['error'] as Error).message).toBe('the warehouse is on fire');
    gateway.fastify.log.warn({ err: new Error('from fastify'), detail: 1 }, 'a %s line', 'formatted');
    expect(lines.at(-1)).toEqual({ level: 'warn', msg: 'a formatted line', fields: { error: expect.any(Error), detail: 1 } });
  });

  it('logs a 503 at warn with the error that caused it (a store outage), but not a probe saying not ready', async () => {
    setUp();
    gateway.query({
      url: '/stock',
      handle: async () => {
        throw new HeraldError('db-busy', 'SQLITE_BUSY: database is locked', { retriable: true });
      },
    });
    const res = await gateway.fastify.inject({ method: 'GET', url: '/stock', headers: { 'x-correlation-id': 'flow-503' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'unavailable', detail: 'the service cannot take the request now; retry later' });
    const failure = lines.find((l) => l.msg === 'http: request failed')!;
    expect(failure.level).toBe('warn');
    expect(failure.fields).toMatchObject({ requestId: res.headers['x-request-id'], correlationId: 'flow-503', url: '/stock', status: 503 });
    expect((failure.fields['error'] as Error).message).toBe('SQLITE_BUSY: database is locked');
    expect((await gateway.fastify.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect(lines.filter((l) => l.msg === 'http: request failed')).toHaveLength(1);
  });

  it('logs a 504 (another service did not answer in time) at warn like a 503, and a 502 (it answered nonsense) at error', async () => {
    setUp();
    gateway.query({
      url: '/profile/:mode',
      params: Type.Object({ mode: Type.String() }),
      handle: async ({ params }) => {
        if (params.mode === 'slow') throw new HeraldError('request-timeout', 'no ProfileReturned within 50 ms', { retriable: true });
        throw new HeraldError('reply-invalid', 'the reply is not a valid ProfileReturned');
      },
    });
    const slow = await gateway.fastify.inject({ method: 'GET', url: '/profile/slow' });
    const bad = await gateway.fastify.inject({ method: 'GET', url: '/profile/bad' });
    expect([slow.statusCode, bad.statusCode]).toEqual([504, 502]);
    expect(lines.filter((l) => l.msg === 'http: request failed').map((l) => [l.level, l.fields['code']])).toEqual([
      ['warn', 'request-timeout'],
      ['error', 'reply-invalid'],
    ]);
  });

  it("answers 500, logged with the cause, when the route publishes an event that does not match its schema; a route's own schema-violation stays 422", async () => {
    setUp();
    gateway.command({
      method: 'POST',
      url: '/broken',
      body: Type.Object({ item: Type.String(), check: Type.Optional(Type.Boolean()) }),
      idempotency: 'optional',
      handle: async ({ body, publish }) => {
        if (body.check) throw new ValidationError('the request', [{ path: '/item', message: 'is not in the catalogue' }]);
        await publish(OrderPlaced, { orderId: 7, item: body.item } as never);
        return { ok: true };
      },
    });
    const send = (payload: unknown) =>
      gateway.fastify.inject({ method: 'POST', url: '/broken', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
    const res = await send({ item: 'book' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'internal', detail: 'Internal server error' });
    expect(res.json()).not.toHaveProperty('errors');
    const failure = lines.find((l) => l.msg === 'http: request failed')!;
    expect(failure.level).toBe('error');
    expect((failure.fields['error'] as Error).message).toMatch(/^the route published an invalid event: OrderPlaced does not match its schema: \/orderId/);
    expect(((failure.fields['error'] as Error).cause as { code: string }).code).toBe('schema-violation');
    expect(await stores.outbox.claim({ relayId: 'r', limit: 10, leaseMs: 1000 })).toEqual([]);
    const own = await send({ item: 'book', check: true });
    expect(own.statusCode).toBe(422);
    expect(own.json()).toMatchObject({ code: 'schema-violation', errors: [{ path: '/item', message: 'is not in the catalogue' }] });
  });

  it('answers router refusals with problem+json, the request and correlation ids, and logs them', async () => {
    setUp();
    const bad = await gateway.fastify.inject({ method: 'GET', url: '/orders/%zz', headers: { 'x-correlation-id': 'flow-url' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toBe('application/problem+json');
    expect(bad.json()).toMatchObject({ code: 'bad-request', status: 400, instance: '/orders/%zz' });
    expect(bad.headers['x-request-id']).toMatch(UUID);
    expect(bad.headers['x-correlation-id']).toBe('flow-url');
    const long = await gateway.fastify.inject({ method: 'GET', url: `/orders/${'x'.repeat(500)}`, headers: { 'x-correlation-id': 'not valid' } });
    expect(long.statusCode).toBe(414);
    expect(long.json()).toMatchObject({ code: 'uri-too-long', status: 414 });
    expect(long.headers['x-correlation-id']).toBe(long.headers['x-request-id']);
    expect(lines.filter((l) => l.msg === 'request completed').map((l) => [l.level, l.fields['statusCode'], l.fields['requestId'], l.fields['correlationId']])).toEqual([
      ['info', 400, bad.headers['x-request-id'], 'flow-url'],
      ['info', 414, long.headers['x-request-id'], long.headers['x-request-id']],
    ]);
  });

  it('drives the tracing hook: one trace per request, the work inside it, its events carry it, ended with the status', async () => {
    const recorded = recordingTracer();
    setUp({ tracer: recorded.tracer, metrics: exposition });
    const created = await post('book', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'user-agent': 'test' });
    expect((await post('boom')).statusCode).toBe(500);
    const missing = await gateway.fastify.inject({ method: 'GET', url: '/orders/none' });
    // probes and scrapes start no trace: each would be a root span every few seconds
    await gateway.fastify.inject({ method: 'GET', url: '/readyz' });
    expect((await gateway.fastify.inject({ method: 'GET', url: METRICS_PATH })).statusCode).toBe(200);

    expect(recorded.started.map((r) => [r.method, r.route, r.url])).toEqual([
      ['POST', '/orders', '/orders'],
      ['POST', '/orders', '/orders'],
      ['GET', '/orders/:id', '/orders/none'],
    ]);
    expect(recorded.started[0]).toMatchObject({ scheme: 'http', httpVersion: '1.1', headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'user-agent': 'test' } });
    const [first, second, third] = recorded.ended;
    expect(first).toEqual({ traceId: '1'.padStart(32, '0'), statusCode: 201, error: undefined });
    expect(second).toMatchObject({ statusCode: 500, error: expect.objectContaining({ message: 'the warehouse is on fire' }) });
    expect(third).toMatchObject({ statusCode: 404, error: expect.objectContaining({ code: 'not-found' }) });
    expect(recorded.ran).toEqual([first!.traceId, second!.traceId, third!.traceId]);

    const [event] = await outboxOf(created.headers['x-correlation-id'] as string);
    expect(event!.headers).toEqual({ traceparent: `00-${first!.traceId}-00000000000000aa-01` });
    expect(lines.find((l) => l.msg === 'request completed' && l.fields['statusCode'] === 201)?.fields['traceId']).toBe(first!.traceId);
    expect(missing.headers['x-correlation-id']).toBe(missing.headers['x-request-id']);
  });

  it('treats GET /metrics as a probe only when it serves metrics: without them it is a 404 like any other request', async () => {
    const recorded = recordingTracer();
    setUp({ tracer: recorded.tracer });
    expect((await gateway.fastify.inject({ method: 'GET', url: METRICS_PATH })).statusCode).toBe(404);
    expect(recorded.started.map((r) => r.url)).toEqual(['/metrics']);
    expect(lines.filter((l) => l.msg === 'request completed').map((l) => [l.level, l.fields['statusCode']])).toEqual([['info', 404]]);
  });
});
