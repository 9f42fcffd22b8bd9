import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalyticsPipeline, PipelineUrls } from '../src/system.js';
import { httpBatch, httpSingle } from './support/client.js';
import { httpQueries, sendScenario, verifyQueries } from './support/drive.js';
import { call, grpcBatch, grpcClients, grpcMetric, grpcQueries, grpcStream, grpcUnary, stream, toMessage, violationsOf } from './support/grpcClient.js';
import { startInProcess, tempDataDir } from './support/inProcess.js';
import { buildScenario, RANGE } from './support/scenario.js';

/**
 * The scenario sent over every ingest face at once (HTTP single and batch, gRPC unary, batch and
 * client stream; metric samples over HTTP and RecordMetric, those with an id twice), then every query asked over gRPC and over HTTP: both answer what the scenario
 * computes.
 */
describe('analytics-pipeline in one process, over HTTP and gRPC', () => {
  const data = tempDataDir('analytics-grpc');
  let system: AnalyticsPipeline | undefined;
  let urls: PipelineUrls = {};
  let clients: ReturnType<typeof grpcClients> | undefined;
  beforeAll(async () => {
    ({ system, urls } = await startInProcess(data.dir));
    clients = grpcClients(urls.producerGrpc!, urls.analyticsGrpc!);
  });
  afterAll(async () => {
    clients?.close();
    await system?.close();
    data.remove();
  });

  it('answers every query alike over gRPC and HTTP, from events sent over both', { timeout: 120_000 }, async () => {
    const { producer, analytics } = clients!;
    const scenario = buildScenario('grpc', 2);
    const senders = [httpSingle(urls.producerHttp!), httpBatch(urls.producerHttp!), grpcUnary(producer), grpcBatch(producer), grpcStream(producer)];
    await sendScenario(urls.producerHttp!, senders, scenario, { recordMetric: grpcMetric(producer) });
    await verifyQueries(grpcQueries(analytics), scenario);
    await verifyQueries(httpQueries(urls.analyticsHttp!), scenario);
  });

  it('refuses invalid input with INVALID_ARGUMENT naming each field, and unknown users with NOT_FOUND', async () => {
    const { producer, analytics } = clients!;
    const good = (i: number) => ({ eventId: `grpc-bad-${i}`, userId: 'u-bad', type: 'click', timestamp: RANGE.from, properties: { element: 'b' } });
    const refusedBatch = await call(producer, 'IngestBatch', {
      events: [toMessage(good(1)), { ...toMessage(good(2)), timestamp: 'soon' }, { ...toMessage(good(3)), propertiesJson: '[1]' }],
    }).catch((e: grpc.ServiceError) => e);
    expect((refusedBatch as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(violationsOf(refusedBatch as grpc.ServiceError).map((v) => v.field)).toEqual(['events[1].timestamp', 'events[2].propertiesJson']);

    const refusedStream = await stream(producer, [toMessage(good(4)), toMessage(good(5)), { ...toMessage(good(6)), userId: '' }, toMessage(good(7))]).catch((e: grpc.ServiceError) => e);
    expect((refusedStream as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(violationsOf(refusedStream as grpc.ServiceError).map((v) => v.field)).toEqual(['events[2].userId']);
    expect((refusedStream as grpc.ServiceError).metadata.get('accepted')).toEqual(['2']);

    const unknown = await call(analytics, 'User', { userId: 'nobody' }).catch((e: grpc.ServiceError) => e);
    expect((unknown as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    const badWindow = await call(analytics, 'Counts', { ...RANGE, window: '2m' }).catch((e: grpc.ServiceError) => e);
    expect((badWindow as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    const tooLarge = await call(producer, 'Ingest', { ...toMessage(good(8)), propertiesJson: JSON.stringify({ element: 'x'.repeat(1_100_000) }) }).catch((e: grpc.ServiceError) => e);
    expect((tooLarge as grpc.ServiceError).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const generated = await call<{ eventId: string }>(producer, 'Ingest', { ...toMessage(good(9)), eventId: '' });
    expect(generated.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
