// The metric names the exporter really exposes: a live app driven through every kind of event,
// scraped, and the names read back from the exposition.
import { createGateway } from '@herald/http';
import { createMetrics, parseExposition } from '@herald/metrics';
import type { MemoryTx } from '@herald/testing';
import { eventually, FLAKY, OrderPlaced, POISON, testApp } from '../../packages/metrics/test/support/app.js';
import { runningStreams } from './runningStreams.js';

/** Names Prometheus itself adds to what it scrapes (not the exporter's). */
export const PROMETHEUS_NAMES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'ALERTS', 'ALERTS_FOR_STATE']);

/**
 * Every sample name in `exposition`, plus, from its `# TYPE` lines, the series names each declared
 * metric has (`_bucket`, `_sum`, `_count` for histograms; `_sum`, `_count` for summaries), so a
 * labelled metric that has seen nothing yet still counts as exposed.
 */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set(parseExposition(exposition).map((s) => s.name));
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const suffixes = type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const suffix of suffixes) names.add(`${name}${suffix}`);
  }
  return names;
}

/**
 * Runs an app (memory engine, relay chaos, a flaky and a poisoned event, a redrive, windowed
 * streams with a late record, a result and a failing punctuation) behind a gateway with metrics,
 * sends it HTTP requests, and returns its scrape.
 */
export async function liveExposition(): Promise<string> {
  const healed = { value: false };
  const fixture = testApp({ healed });
  const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
  fixture.app.use(metrics);
  const gateway = createGateway<MemoryTx>({ app: fixture.app, metrics });
  gateway.query({ url: '/ping', handle: async () => ({ ok: true }) });
  const streams = runningStreams(fixture.app);
  await fixture.app.start();
  try {
    await fixture.app.ready();
    for (const orderId of ['o-1', FLAKY, POISON]) await fixture.app.publish(OrderPlaced, { orderId });
    await fixture.untilHandled(5);
    healed.value = true;
    await fixture.app.redrive({ group: 'billing' });
    await streams.drive();
    await gateway.fastify.inject({ method: 'GET', url: '/ping' });
    await gateway.fastify.inject({ method: 'GET', url: '/nowhere' });
    await eventually(async () => {
      await metrics.poll();
      return (await metrics.scrape()).body.includes('herald_consumer_lag{');
    }, 'lag read from the broker');
    return (await metrics.scrape()).body;
  } finally {
    await gateway.close();
    await fixture.app.close({ deadlineMs: 1000 });
  }
}
