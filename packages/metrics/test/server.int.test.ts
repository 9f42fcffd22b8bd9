import { createServer } from 'node:net';
import { createApp, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, metricsServer, MetricsErrorCodes, parseExposition, sumSamples, type MetricsServer } from '../src/index.js';
import { OrderPlaced } from './support/app.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ deadlineMs: 1000 });
});

async function serve(options: Partial<Parameters<typeof metricsServer>[0]> = {}) {
  const app = createApp({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, events: [OrderPlaced], relay: false });
  const metrics = createMetrics({ app, pollIntervalMs: 0 });
  const server = metricsServer({ metrics, port: 0, ...options });
  servers.push(server);
  await server.start(new AbortController().signal);
  return { app, metrics, server, url: server.url! };
}

describe('metricsServer', () => {
  it('serves the scrape on 127.0.0.1 by default, with prom-client\'s content type', async () => {
    const { app, url } = await serve();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await app.publish(OrderPlaced, { orderId: 'o-1' });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseExposition(await response.text());
    expect(sumSamples(samples, 'herald_events_published_total', { topic: 'orders', event_type: 'OrderPlaced' })).toBe(1);
    const head = await fetch(url, { method: 'HEAD' });
    expect({ status: head.status, body: await head.text() }).toEqual({ status: 200, body: '' });
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    const { url } = await serve({ path: '/custom' });
    expect(url.endsWith('/custom')).toBe(true);
    const base = url.slice(0, -'/custom'.length);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${url}?x=1`)).status).toBe(200);
    const post = await fetch(url, { method: 'POST', body: '' });
    expect({ status: post.status, allow: post.headers.get('allow') }).toEqual({ status: 405, allow: 'GET, HEAD' });
  });

  it('answers 500 when the scrape fails, and keeps serving', async () => {
    let fail = true;
    const server = metricsServer({ metrics: { scrape: async () => (fail ? Promise.reject(new Error('boom')) : { contentType: 'text/plain', body: 'x 1\n' }) }, port: 0 });
    servers.push(server);
    await server.start(new AbortController().signal);
    expect((await fetch(server.url!)).status).toBe(500);
    fail = false;
    expect(await (await fetch(server.url!)).text()).toBe('x 1\n');
  });

  it('fails to start with metrics-listen-failed when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const server = metricsServer({ metrics: { scrape: async () => ({ contentType: 'text/plain', body: '' }) }, port });
      await expect(server.start(new AbortController().signal)).rejects.toMatchObject({ code: MetricsErrorCodes.listenFailed, message: expect.stringContaining(`127.0.0.1:${port}`) });
      await server.close({ deadlineMs: 0 });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('lets a scrape in flight finish at close, then refuses connections; close is idempotent', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const scraping = new Promise<void>((resolve) => (started = resolve));
    const server = metricsServer({ metrics: { scrape: async () => (started(), await held, { contentType: 'text/plain', body: 'late 1\n' }) }, port: 0 });
    await server.start(new AbortController().signal);
    const url = server.url!;
    const inFlight = fetch(url).then((r) => r.text());
    await scraping;
    const closed = server.close({ deadlineMs: 5000 });
    expect(server.url).toBeUndefined();
    release();
    expect(await inFlight).toBe('late 1\n');
    await Promise.all([closed, server.close({ deadlineMs: 0 })]);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('closes a server still starting: close() during start() leaves no port bound', async () => {
    const listenOn = (port: number) =>
      new Promise<{ port: number; close: () => Promise<void> }>((resolve, reject) => {
        const probe = createServer();
        probe.once('error', reject);
        probe.listen(port, '127.0.0.1', () => resolve({ port: (probe.address() as { port: number }).port, close: () => new Promise((done) => probe.close(() => done())) }));
      });
    const free = await listenOn(0);
    await free.close();
    const server = metricsServer({ metrics: { scrape: async () => ({ contentType: 'text/plain', body: 'x 1\n' }) }, port: free.port });
    const starting = server.start(new AbortController().signal);
    await server.close({ deadlineMs: 100 });
    await starting;
    expect(server.url).toBeUndefined();
    // the port is free: nothing listens on it any more
    const again = await listenOn(free.port);
    await again.close();
  });

  it('cuts a scrape that outlives the close deadline', async () => {
    let started!: () => void;
    const scraping = new Promise<void>((resolve) => (started = resolve));
    const server = metricsServer({ metrics: { scrape: () => (started(), new Promise(() => {})) }, port: 0 });
    await server.start(new AbortController().signal);
    const inFlight = fetch(server.url!).then(
      () => 'answered',
      () => 'cut',
    );
    await scraping;
    await server.close({ deadlineMs: 50 });
    expect(await inFlight).toBe('cut');
  });

  it('refuses bad options with invalid-options', () => {
    const metrics = { scrape: async () => ({ contentType: 'text/plain', body: '' }) };
    expect(() => metricsServer({ metrics, port: 70_000 })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => metricsServer({ metrics, port: 1.5 })).toThrow(/port/);
    expect(() => metricsServer({ metrics, host: '' })).toThrow(/host/);
    expect(() => metricsServer({ metrics, path: 'metrics' })).toThrow(/path/);
    expect(() => metricsServer({ metrics: {} as never })).toThrow(/scrape/);
  });
});
