import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeOnSignals, createApp, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import type { EventWait, Gateway } from '../src/index.js';
import { createGateway } from '../src/index.js';
import { fixture, gate, OrderPlaced, orderRows, PlaceOrder, type Fixture } from './support.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request on its own connection (no keep-alive pool), bounded in time. */
function call(url: string, options: { method?: string; body?: unknown; key?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        timeout: 10_000,
        headers: payload ? { 'content-type': 'application/json', 'idempotency-key': options.key ?? 'k' } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

describe('graceful shutdown on a real listener', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.gateway.close({ deadlineMs: 100 });
    f = undefined;
  });

  it('reports not-ready first, finishes in-flight requests, refuses new connections, then runs onClosed', async () => {
    let appClosed = false;
    f = fixture({ shutdown: { readinessGraceMs: 300, onClosed: async () => void (appClosed = true) } });
    const { url } = await f.gateway.listen({ port: 0, host: '127.0.0.1' });
    f.gateway.markReady();
    expect((await call(`${url}/readyz`)).status).toBe(200);

    f.hold = gate();
    const inFlight = call(`${url}/orders`, { method: 'POST', body: { item: 'book', quantity: 1 } });
    await until(() => f!.runs.count === 1);
    const closed = f.gateway.close();

    // during the grace period: not ready, but still serving
    const readyz = await call(`${url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(JSON.parse(readyz.body)).toMatchObject({ code: 'unavailable', detail: 'not ready: draining' });
    expect((await call(`${url}/livez`)).status).toBe(200);

    // after it: the listener is gone
    await until(async () => (await call(`${url}/livez`).catch((e: NodeJS.ErrnoException) => e.code)) === 'ECONNREFUSED');
    expect(appClosed).toBe(false);

    f.hold.open();
    const answer = await inFlight;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toEqual({ orderId: 'o-1', status: 'CREATED' });
    await closed;
    expect(appClosed).toBe(true);
    expect(f.gateway.readiness.state).toBe('closed');
  });

  it('cuts requests still running at the deadline', async () => {
    f = fixture({ shutdown: { deadlineMs: 200 } });
    const { url } = await f.gateway.listen({ port: 0 });
    f.hold = gate();
    const stuck = call(`${url}/orders`, { method: 'POST', body: { item: 'book', quantity: 1 } }).catch((e: NodeJS.ErrnoException) => e.code ?? e.message);
    await until(() => f!.runs.count === 1);
    const started = Date.now();
    await f.gateway.close();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2_000);
    expect(await stuck).toBe('ECONNRESET');
    f.hold.open();
  });

  it('waits for a route still running after its client went away before running onClosed', async () => {
    const order: string[] = [];
    f = fixture({
      shutdown: {
        onClosed: async () => {
          order.push(`onClosed (${(await orderRows(f!.stores)).length} order committed)`);
          await f!.app.close();
        },
      },
    });
    f.gateway.fastify.addHook('onClose', async () => void order.push('listener closed'));
    const { url } = await f.gateway.listen({ port: 0 });
    f.hold = gate();
    const gone = httpRequest(`${url}/orders`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'idempotency-key': 'gone-1' } });
    gone.on('error', () => undefined);
    gone.end(JSON.stringify({ item: 'book', quantity: 1 }));
    await until(() => f!.runs.count === 1);
    gone.destroy();

    const closed = f.gateway.close();
    await until(() => order.includes('listener closed'));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    // no connection is left, but the route still runs: the app must stay open under it
    expect(order).toEqual(['listener closed']);
    f.hold.open();
    await closed;
    expect(order).toEqual(['listener closed', 'onClosed (1 order committed)']);
  });

  it('closes once on SIGTERM when asked to handle signals', async () => {
    let closes = 0;
    const before = process.listenerCount('SIGTERM');
    const dispose = closeOnSignals(async () => void closes++, { exit: false });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await until(() => closes === 1);
      expect(process.listenerCount('SIGTERM')).toBe(before);
    } finally {
      dispose();
      process.exitCode = undefined;
    }
  });
});

describe('graceful shutdown of a request held for an event', () => {
  let gateway: Gateway<MemoryTx> | undefined;
  afterEach(async () => {
    await gateway?.close({ deadlineMs: 100 });
    gateway = undefined;
  });

  it('answers 202 with its Location when draining begins, rather than being cut at the deadline after its work committed', async () => {
    const stores = memoryStores();
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores, logger: silentLogger });
    const waits = { count: 0 };
    gateway = createGateway<MemoryTx>({ app, shutdown: { deadlineMs: 1_000 } });
    gateway.command({
      method: 'POST',
      url: '/orders',
      body: PlaceOrder,
      status: 201,
      handle: async ({ body, tx, publish }) => {
        tx.set('orders/o-1', { orderId: 'o-1', ...body });
        await publish(OrderPlaced, { orderId: 'o-1', item: body.item }, { correlationId: 'o-1' });
        return { orderId: 'o-1' };
      },
      awaitEvent: {
        waiter: silentWaiter(waits),
        // far past the shutdown deadline: the outcome comes late
        timeoutMs: 60_000,
        correlationId: (result) => result.orderId,
        answer: (_event, result) => ({ status: 201, body: result }),
        location: (result) => `/orders/${result.orderId}`,
        pending: (result) => ({ orderId: result.orderId, status: 'PENDING' }),
      },
    });
    const { url } = await gateway.listen({ port: 0 });
    const held = call(`${url}/orders`, { method: 'POST', body: { item: 'book', quantity: 1 } }).catch((e: NodeJS.ErrnoException) => e.code ?? e.message);
    await until(() => waits.count === 1);

    const closed = gateway.close();
    const answer = await held;

    expect(answer).toMatchObject({ status: 202, headers: { location: '/orders/o-1' } });
    expect(JSON.parse((answer as Answer).body)).toEqual({ orderId: 'o-1', status: 'PENDING' });
    await closed;
    expect(await orderRows(stores)).toEqual(['orders/o-1']);
    await app.close();
  });
});

/** A waiter whose events never come: each wait ends at its timeout or when cancelled, as @herald/reply's does. */
function silentWaiter(waits: { count: number }): EventWait {
  return {
    expect(_correlationId, { timeoutMs }) {
      waits.count++;
      let end!: () => void;
      const result = new Promise<undefined>((resolve) => (end = () => resolve(undefined)));
      const timer = setTimeout(end, timeoutMs);
      return {
        result,
        cancel: () => {
          clearTimeout(timer);
          end();
        },
      };
    },
  };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
