import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreErrors, createApp, defineEvent, HeraldError, silentLogger, uuidv7, type App, type Logger, type SqlTx } from '@herald/core';
import { createGateway, type Gateway } from '@herald/http';
import { sqliteEngine } from '@herald/sqlite';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventWaiter, type EventWaiter } from '../src/index.js';
import { until } from './scenario.js';

// Two gateway replicas and an order service, each an app of its own on one data directory (as
// separate processes of one embedded system would be). A POST /orders is answered from the
// OrderDecided event its request causes, on whichever replica holds the request.

const OrderRequested = defineEvent({ type: 'OrderRequested', topic: 'orders.requests', key: (d) => d.requestId, schema: Type.Object({ requestId: Type.String(), amount: Type.Integer() }) });
const OrderDecided = defineEvent({
  type: 'OrderDecided',
  topic: 'orders.status',
  key: (d) => d.requestId,
  schema: Type.Object({ requestId: Type.String(), status: Type.Union([Type.Literal('PAID'), Type.Literal('DECLINED')]) }),
});

const dir = mkdtempSync(join(tmpdir(), 'herald-await-'));
const engine = () => sqliteEngine({ dataDir: dir, log: { heartbeatMs: 100, sessionTimeoutMs: 1_000 } });
const apps: App<SqlTx>[] = [];
const gateways: Gateway<SqlTx>[] = [];
/** Amounts the order service keeps failing on (retrying, outside any transaction) until released: the deadline path. */
const holding = new Set<number>();

async function orderService(): Promise<void> {
  const app = createApp<SqlTx>({ ...engine(), name: 'orders', logger: silentLogger, relay: { idleMs: 5 }, groups: { orders: { commitIntervalMs: 20 } } });
  apps.push(app);
  await app.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS decisions (request_id TEXT PRIMARY KEY, status TEXT NOT NULL)'));
  app.on(OrderRequested, { group: 'orders', retry: { maxAttempts: 10_000, initialDelayMs: 20, maxDelayMs: 50 } }, async (event, ctx) => {
    if (holding.has(event.data.amount)) throw new HeraldError(CoreErrors.timeout, 'payment provider not answering (held by the test)', { retriable: true });
    const status = event.data.amount <= 100 ? 'PAID' : 'DECLINED';
    await ctx.tx.execute('INSERT INTO decisions (request_id, status) VALUES ($1, $2) ON CONFLICT DO NOTHING', [event.data.requestId, status]);
    await ctx.publish(OrderDecided, { requestId: event.data.requestId, status }, { correlationId: event.data.requestId });
  });
  await app.start();
}

/** `timeoutMs`: how long the replica holds a request (a short one for the deadline path, a generous one where an answer must come). */
async function replica(name: string, timeoutMs: number): Promise<{ gateway: Gateway<SqlTx>; waiter: EventWaiter }> {
  const app = createApp<SqlTx>({ ...engine(), name, logger: silentLogger, relay: { idleMs: 5 } });
  apps.push(app);
  const waiter = createEventWaiter({ app, events: [OrderDecided], instanceId: name });
  app.use(waiter);
  const gateway = createGateway<SqlTx>({ app });
  gateways.push(gateway);
  const status = async (requestId: string) => (await app.transaction((tx) => tx.query<{ status: string }>('SELECT status FROM decisions WHERE request_id = $1', [requestId])))[0]?.status;
  gateway.command({
    method: 'POST',
    url: '/orders',
    body: Type.Object({ amount: Type.Integer() }),
    status: 202,
    handle: async ({ body, publish }) => {
      const requestId = uuidv7();
      await publish(OrderRequested, { requestId, amount: body.amount }, { correlationId: requestId });
      return { requestId, served: name };
    },
    awaitEvent: {
      waiter,
      timeoutMs,
      correlationId: (result) => result.requestId,
      answer: (event, result) => ({ status: 201, body: { requestId: result.requestId, status: (event.data as { status: string }).status, answeredBy: name } }),
      lookup: async (result) => {
        const known = await status(result.requestId);
        return known ? { status: 201, body: { requestId: result.requestId, status: known, answeredBy: `${name} (lookup)` } } : undefined;
      },
      location: (result) => `/requests/${result.requestId}`,
      pending: (result) => ({ requestId: result.requestId, status: 'PENDING' }),
    },
  });
  gateway.query({
    url: '/requests/:id',
    params: Type.Object({ id: Type.String() }),
    handle: async ({ params }) => ({ requestId: params.id, status: (await status(params.id)) ?? 'PENDING' }),
  });
  await app.start();
  return { gateway, waiter };
}

let a: { gateway: Gateway<SqlTx>; waiter: EventWaiter };
let b: { gateway: Gateway<SqlTx>; waiter: EventWaiter };
beforeAll(async () => {
  await orderService();
  a = await replica('gateway-a', 500);
  b = await replica('gateway-b', 20_000);
  await Promise.all(apps.map((app) => app.ready()));
}, 30_000);
afterAll(async () => {
  holding.clear();
  for (const gateway of gateways) await gateway.close();
  for (const app of apps) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (on: Gateway<SqlTx>, key: string, amount: number) =>
  on.fastify.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json', 'idempotency-key': key }, payload: { amount } });

describe('a command route answered from the event it causes', () => {
  it('holds the request until the correlated event arrives, and answers from it', async () => {
    const [paid, declined] = await Promise.all([post(b.gateway, 'k-paid', 40), post(b.gateway, 'k-declined', 500)]);
    expect(paid.statusCode).toBe(201);
    expect(paid.json()).toMatchObject({ status: 'PAID', answeredBy: 'gateway-b' });
    expect(declined.statusCode).toBe(201);
    expect(declined.json()).toMatchObject({ status: 'DECLINED', answeredBy: 'gateway-b' });
    expect(a.waiter.pending + b.waiter.pending).toBe(0);
  });

  it('answers 202 with a Location past the deadline; the client polls, or retries its key on another replica', async () => {
    holding.add(77);
    const first = await post(a.gateway, 'k-slow', 77);
    expect(first.statusCode).toBe(202);
    const { requestId } = first.json() as { requestId: string };
    expect(first.json()).toEqual({ requestId, status: 'PENDING' });
    expect(first.headers['location']).toBe(`/requests/${requestId}`);
    expect((await a.gateway.fastify.inject({ method: 'GET', url: `/requests/${requestId}` })).json()).toEqual({ requestId, status: 'PENDING' });

    // the same key on the other replica: the work is not done again, the wait is — and the event ends it there
    const retry = post(b.gateway, 'k-slow', 77);
    await until(() => b.waiter.pending === 1, 5_000, 'the retry to wait on replica b');
    holding.delete(77);
    const answered = await retry;
    expect(answered.statusCode).toBe(201);
    expect(answered.headers['idempotent-replayed']).toBe('true');
    expect(answered.json()).toEqual({ requestId, status: 'PAID', answeredBy: 'gateway-b' });

    // polling sees the outcome; a late retry on the first replica reads it without waiting
    expect((await a.gateway.fastify.inject({ method: 'GET', url: `/requests/${requestId}` })).json()).toEqual({ requestId, status: 'PAID' });
    const late = await post(a.gateway, 'k-slow', 77);
    expect(late.statusCode).toBe(201);
    expect(late.json()).toEqual({ requestId, status: 'PAID', answeredBy: 'gateway-a (lookup)' });
  });

  it('refuses a wait with a bad correlation id or timeout, and a waiter with no events', () => {
    expect(() => a.waiter.expect('', { timeoutMs: 10 })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => a.waiter.expect('c-1', { timeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => createEventWaiter({ app: apps[0]!, events: [] })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('refuses, when the route is declared, an awaitEvent the waiter would refuse at every request after the commit', () => {
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger });
    const waiter = createEventWaiter({ app, events: [OrderDecided], instanceId: 'declared' });
    const gateway = createGateway<MemoryTx>({ app });
    const route = (awaitEvent: Record<string, unknown>) => () =>
      gateway.command({
        method: 'POST',
        url: '/orders',
        body: Type.Object({ amount: Type.Integer() }),
        handle: async () => ({ requestId: 'r-1' }),
        awaitEvent: { waiter, timeoutMs: 1_000, correlationId: (r) => r.requestId, answer: () => ({ status: 201, body: null }), location: () => '/r', ...awaitEvent },
      });
    for (const timeoutMs of [0, 1.5, 2 ** 31]) expect(route({ timeoutMs }), String(timeoutMs)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(route({ waiter: {} })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(route({ location: 'not a function' })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(route({})).not.toThrow();
  });
});

describe('an awaitEvent route whose work committed but cannot be answered from the event', () => {
  interface Logged {
    readonly level: string;
    readonly message: string;
    readonly code: unknown;
  }

  /** One gateway on the in-memory engine, not started; `lookup` replaces the route's (which knows nothing). */
  function memoryReplica(options: { lookup?: () => Promise<undefined> } = {}) {
    const logged: Logged[] = [];
    const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void logged.push({ level, message, code: (fields?.['error'] as { code?: unknown } | undefined)?.code });
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: at('warn'), error: at('error'), child: () => logger };
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger, relay: { idleMs: 5 } });
    const waiter = createEventWaiter({ app, events: [OrderDecided], instanceId: 'gateway-m' });
    app.use(waiter);
    const gateway = createGateway<MemoryTx>({ app });
    let done = 0;
    gateway.command({
      method: 'POST',
      url: '/orders',
      body: Type.Object({ amount: Type.Integer() }),
      status: 202,
      handle: async ({ body, publish }) => {
        const requestId = uuidv7();
        await publish(OrderRequested, { requestId, amount: body.amount }, { correlationId: requestId });
        done++;
        return { requestId };
      },
      awaitEvent: {
        waiter,
        timeoutMs: 50,
        correlationId: (result) => result.requestId,
        answer: (event, result) => ({ status: 201, body: { requestId: result.requestId, status: (event.data as { status: string }).status } }),
        lookup: options.lookup ?? (async () => undefined),
        location: (result) => `/requests/${result.requestId}`,
        pending: (result) => ({ requestId: result.requestId, status: 'PENDING' }),
      },
    });
    const post = (key: string) => gateway.fastify.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json', 'idempotency-key': key }, payload: { amount: 5 } });
    return { app, waiter, gateway, post, logged, done: () => done };
  }

  let replicas: ReturnType<typeof memoryReplica>[] = [];
  afterEach(async () => {
    for (const { gateway, app } of replicas) {
      await gateway.close();
      await app.close();
    }
    replicas = [];
  });
  const replicaOf = (options?: Parameters<typeof memoryReplica>[0]) => {
    const replica = memoryReplica(options);
    replicas.push(replica);
    return replica;
  };

  const expectPending = (response: Awaited<ReturnType<ReturnType<typeof memoryReplica>['post']>>) => {
    expect({ status: response.statusCode, type: response.headers['content-type'] }).toEqual({ status: 202, type: 'application/json; charset=utf-8' });
    const { requestId } = response.json() as { requestId: string };
    expect(response.json()).toEqual({ requestId, status: 'PENDING' });
    expect(response.headers['location']).toBe(`/requests/${requestId}`);
    return requestId;
  };

  it('answers 202 with the Location, not an error, when the gateway serves before the app started its waiter', async () => {
    const r = replicaOf();
    // before the fix: 500 internal, although the order was placed (waiter-not-started after the commit)
    const requestId = expectPending(await r.post('k-early'));
    expect(r.done()).toBe(1);
    expect(r.logged).toContainEqual(expect.objectContaining({ level: 'error', code: 'waiter-not-started' }));
    // the work committed with its key: once started, the same key replays it rather than doing it again
    await r.app.start();
    await r.app.ready();
    const again = await r.post('k-early');
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(expectPending(again)).toBe(requestId);
    expect(r.done()).toBe(1);
  });

  it('answers 202 with the Location, not a 503, when the waiter closed', async () => {
    const r = replicaOf();
    await r.app.start();
    await r.app.ready();
    await r.waiter.close({ deadlineMs: 1_000 });
    expectPending(await r.post('k-closing'));
    expect(r.done()).toBe(1);
    expect(r.logged).toContainEqual(expect.objectContaining({ level: 'warn', code: 'waiter-closed' }));
  });

  it('answers 202 with the Location, not an error, when the lookup throws', async () => {
    const r = replicaOf({
      lookup: async () => {
        throw new HeraldError(CoreErrors.timeout, 'the status table is busy', { retriable: true });
      },
    });
    await r.app.start();
    await r.app.ready();
    expectPending(await r.post('k-lookup'));
    expect(r.done()).toBe(1);
    expect(r.waiter.pending).toBe(0);
    expect(r.logged).toContainEqual(expect.objectContaining({ level: 'warn', code: 'timeout' }));
  });
});
