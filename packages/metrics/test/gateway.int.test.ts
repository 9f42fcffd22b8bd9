import { createApp, silentLogger } from '@herald/core';
import { createGateway, METRICS_PATH } from '@herald/http';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, parseExposition, sumSamples } from '../src/index.js';
import { OrderPlaced } from './support/app.js';
import { runTool } from './support/tools.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('the gateway serving createMetrics', () => {
  it('counts requests by route pattern and status over real HTTP, and serves an exposition promtool accepts', async () => {
    const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, events: [OrderPlaced], relay: false });
    const metrics = createMetrics({ app, pollIntervalMs: 60_000 });
    app.use(metrics);
    const gateway = createGateway<MemoryTx>({ app, metrics });
    gateway.command({
      method: 'POST',
      url: '/orders',
      body: Type.Object({ orderId: Type.String() }),
      status: 201,
      handle: async ({ body, publish }) => (await publish(OrderPlaced, { orderId: body.orderId }), { ok: true }),
    });
    gateway.query({ url: '/orders/:id', params: Type.Object({ id: Type.String() }), handle: async ({ params }) => ({ id: params.id }) });
    const { url } = await gateway.listen({ port: 0 });
    closers.push(() => gateway.close().then(() => app.close()));
    await app.start({ groups: false });

    for (const id of ['a', 'b']) {
      const res = await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': id }, body: JSON.stringify({ orderId: id }) });
      expect(res.status).toBe(201);
    }
    for (const id of ['x', 'y', 'z']) expect((await fetch(`${url}/orders/${id}`)).status).toBe(200);
    expect((await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'no' })).status).toBe(415);
    expect((await fetch(`${url}/nowhere/${Math.random()}`)).status).toBe(404);

    const res = await fetch(`${url}${METRICS_PATH}`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await res.text();
    const samples = parseExposition(body);
    const count = (labels: Record<string, string>) => sumSamples(samples, 'herald_http_request_duration_seconds_count', labels);
    expect(count({ method: 'POST', route: '/orders', status_code: '201' })).toBe(2);
    expect(count({ method: 'POST', route: '/orders', status_code: '415' })).toBe(1);
    expect(count({ method: 'GET', route: '/orders/:id', status_code: '200' })).toBe(3);
    expect(count({ method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    // one series per route pattern: no raw URL ever becomes a label value
    expect(samples.filter((s) => s.name === 'herald_http_request_duration_seconds_count').map((s) => s.labels['route']).sort()).toEqual(['/orders', '/orders', '/orders/:id', 'unmatched']);
    expect(sumSamples(samples, 'herald_events_published_total', { topic: 'orders' })).toBe(2);

    const lint = await runTool('promtool', ['check', 'metrics'], { stdin: body });
    expect({ code: lint.code, output: (lint.stdout + lint.stderr).trim() }).toEqual({ code: 0, output: '' });
  });
});
