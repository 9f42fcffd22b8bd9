import { parseExposition, sumSamples } from '@herald/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRPC_METRICS } from '../src/seedMetrics.js';
import type { AnalyticsPipeline, PipelineUrls } from '../src/system.js';
import { send } from './support/client.js';
import { call, grpcClients, stream, toMessage } from './support/grpcClient.js';
import { startInProcess, tempDataDir } from './support/inProcess.js';
import { RANGE } from './support/scenario.js';

/**
 * Seed 001's gRPC interceptors "for logging and metrics": every call the servers answer is counted
 * by method and status and timed (go-grpc-prometheus' names) on /metrics, as HTTP requests are by
 * route; before, a gRPC client's calls showed only as errors, and a healthy gRPC ingest not at all.
 */
describe('analytics-pipeline gRPC servers on /metrics', () => {
  const data = tempDataDir('analytics-grpc-metrics');
  let system: AnalyticsPipeline | undefined;
  let urls: PipelineUrls = {};
  beforeAll(async () => {
    ({ system, urls } = await startInProcess(data.dir));
  });
  afterAll(async () => {
    await system?.close();
    data.remove();
  });

  it('counts each call by method and status, and times it', { timeout: 60_000 }, async () => {
    const clients = grpcClients(urls.producerGrpc!, urls.analyticsGrpc!);
    const event = (eventId: string) => toMessage({ eventId, userId: 'u-1', type: 'click', timestamp: RANGE.from, properties: { element: 'b' } });
    try {
      await call(clients.producer, 'Ingest', event('g-1'));
      await call(clients.producer, 'Ingest', event('g-2'));
      await expect(call(clients.producer, 'Ingest', { ...event('g-3'), timestamp: 'yesterday' })).rejects.toMatchObject({ code: 3 });
      expect(await stream(clients.producer, [event('g-4'), event('g-5')])).toEqual({ accepted: 2 });
      await expect(call(clients.analytics, 'User', { userId: 'nobody' })).rejects.toMatchObject({ code: 5 });
    } finally {
      clients.close();
    }

    // one registry per process: the producer's and the analytics service's calls are on every /metrics of it
    const samples = parseExposition((await send(`${urls.analyticsHttp}/metrics`)).body as string);
    const handled = (service: string, method: string, grpc_code: string, grpc_type = 'unary') =>
      sumSamples(samples, GRPC_METRICS.handled, { grpc_service: `herald.analytics.v1.${service}`, grpc_method: method, grpc_code, grpc_type });
    expect([handled('Producer', 'Ingest', 'OK'), handled('Producer', 'Ingest', 'INVALID_ARGUMENT'), handled('Producer', 'IngestStream', 'OK', 'client_stream'), handled('Analytics', 'User', 'NOT_FOUND')]).toEqual([2, 1, 1, 1]);
    expect(sumSamples(samples, `${GRPC_METRICS.handlingSeconds}_count`, { grpc_method: 'Ingest' })).toBe(3);
    expect(sumSamples(samples, `${GRPC_METRICS.handlingSeconds}_count`, {})).toBe(5);
    // failures stay counted among the seed's errors
    expect([sumSamples(samples, 'errors_total', { source: 'grpc', code: 'INVALID_ARGUMENT' }), sumSamples(samples, 'errors_total', { source: 'grpc', code: 'NOT_FOUND' })]).toEqual([1, 1]);
  });
});
