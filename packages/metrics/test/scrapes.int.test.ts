import { createApp, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';
import { Gauge } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, metricsServer, parseExposition, sumSamples, type MetricsServer } from '../src/index.js';
import { eventually, OrderPlaced } from './support/app.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ deadlineMs: 1000 });
});

describe('scrapes at the same time', () => {
  it("share one collection: a slow metric of the user's is read once, not once more per scrape waiting on it", async () => {
    const app = createApp({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger, events: [OrderPlaced], relay: false });
    const metrics = createMetrics({ app, pollIntervalMs: 0 });
    // the user's gauge: a count from a database that answers slowly (a table lock), until released
    let reads = 0;
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    new Gauge({
      name: 'shop_open_carts',
      help: 'Carts not checked out.',
      registers: [metrics.registry],
      async collect() {
        reads++;
        await slow;
        this.set(7);
      },
    });
    let scrapes = 0;
    const server = metricsServer({ metrics: { scrape: () => (scrapes++, metrics.scrape()) }, port: 0 });
    servers.push(server);
    await server.start(new AbortController().signal);

    // two Prometheus replicas and a retry, all waiting on the slow read
    const answers = [fetch(server.url!), fetch(server.url!), fetch(server.url!)];
    await eventually(() => scrapes === 3, 'three scrapes in flight');
    release();
    const bodies = await Promise.all(answers.map(async (answer) => ({ status: (await answer).status, body: await (await answer).text() })));
    expect(reads).toBe(1);
    for (const { status, body } of bodies) {
      expect(status).toBe(200);
      expect(sumSamples(parseExposition(body), 'shop_open_carts')).toBe(7);
    }

    // a scrape after them collects anew
    await app.publish(OrderPlaced, { orderId: 'o-1' });
    const later = parseExposition(await (await fetch(server.url!)).text());
    expect(reads).toBe(2);
    expect(sumSamples(later, 'herald_events_published_total', { topic: 'orders' })).toBe(1);
  });
});
