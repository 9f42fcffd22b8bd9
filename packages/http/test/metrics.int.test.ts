import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_PATH, type GatewayMetrics } from '../src/index.js';
import { fixture, type Fixture } from './support.js';

type Observation = Parameters<GatewayMetrics['observeRequest']>[0];

/** A GatewayMetrics that records what the gateway reports and serves a fixed exposition. */
function recorder(): GatewayMetrics & { readonly seen: Observation[] } {
  const seen: Observation[] = [];
  return {
    seen,
    observeRequest: (request) => void seen.push(request),
    scrape: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: `requests_seen ${seen.length}\n` }),
  };
}

describe('the gateway with metrics', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  it('serves GET /metrics with the exposition and its content type', async () => {
    const metrics = recorder();
    f = fixture({ metrics });
    const res = await f.gateway.fastify.inject({ method: 'GET', url: METRICS_PATH });
    expect({ status: res.statusCode, type: res.headers['content-type'], body: res.body }).toEqual({
      status: 200,
      type: 'text/plain; version=0.0.4; charset=utf-8',
      body: 'requests_seen 0\n',
    });
  });

  it('reports each response with its route pattern (never the raw URL), method, status and duration', async () => {
    const metrics = recorder();
    f = fixture({ metrics });
    const inject = f.gateway.fastify.inject.bind(f.gateway.fastify);
    await inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' }, payload: { item: 'book', quantity: 1 } });
    await inject({ method: 'GET', url: '/orders/o-1' });
    await inject({ method: 'GET', url: '/orders/o-404?verbose=1' });
    await inject({ method: 'GET', url: '/no/such/route' });
    await inject({ method: 'GET', url: METRICS_PATH });
    expect(metrics.seen.map(({ method, route, statusCode }) => ({ method, route, statusCode }))).toEqual([
      { method: 'POST', route: '/orders', statusCode: 201 },
      { method: 'GET', route: '/orders/:id', statusCode: 200 },
      { method: 'GET', route: '/orders/:id', statusCode: 404 },
      { method: 'GET', route: undefined, statusCode: 404 },
      { method: 'GET', route: METRICS_PATH, statusCode: 200 },
    ]);
    for (const observation of metrics.seen) expect(observation.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('has no /metrics route without metrics, and refuses metrics that cannot scrape', async () => {
    f = fixture();
    expect((await f.gateway.fastify.inject({ method: 'GET', url: METRICS_PATH })).statusCode).toBe(404);
    expect(() => fixture({ metrics: { observeRequest: () => {} } as unknown as GatewayMetrics })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });
});
