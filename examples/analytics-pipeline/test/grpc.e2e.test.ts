import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalyticsPipeline, PipelineUrls } from '../src/system.js';
import { httpBatch, httpSingle } from './support/client.js';
import { httpQueries, sendScenario, verifyQueries } from './support/drive.js';
import { send } from './support/client.js';
import { call, grpcBatch, grpcClients, grpcMetric, grpcQueries, grpcStream, grpcUnary, stream, toMessage, violationsOf } from './support/grpcClient.js';
import { startInProcess, tempDataDir } from './support/inProcess.js';
import { BASE, buildScenario, expectedCounts, RANGE } from './support/scenario.js';

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

  it('refuses text no store keeps, properties nested too deep, a leap second and a fast clock, with INVALID_ARGUMENT naming the field', async () => {
    const { producer } = clients!;
    const good = (i: number) => toMessage({ eventId: `grpc-rule-${i}`, userId: 'u-rule', type: 'click', timestamp: RANGE.from, properties: { element: 'b' } });
    const refused = async (method: string, request: unknown) => {
      const error = (await call(producer, method, request).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
      return { code: error.code, trailer: error.metadata?.get('herald-error-code'), fields: violationsOf(error).map((v) => `${v.field}: ${v.description}`) };
    };
    const invalid = (...fields: string[]) => ({ code: grpc.status.INVALID_ARGUMENT, trailer: ['schema-violation'], fields });
    // half an emoji pair, which only JSON text can carry (a protobuf string is UTF-8: the client's
    // encoder already makes it U+FFFD): accepted, it failed its minute's append on PostgreSQL
    expect(await refused('Ingest', { ...good(1), propertiesJson: '{"element":"caf\\ud83d"}' })).toEqual(invalid(expect.stringMatching(/^properties\.element: .*lone UTF-16 surrogate/)));
    expect(await refused('IngestBatch', { events: [good(2), { ...good(3), propertiesJson: '{"element":"b","\\udc00k":1}' }] })).toEqual(
      // the field's name is UTF-8 on the wire: the lone half is U+FFFD there (the call once got no answer at all: grpc-js could not encode the message)
      invalid(expect.stringMatching(/^events\[1\]\.properties\.\ufffdk: the key must not contain a lone UTF-16 surrogate/)),
    );
    const refusedStream = (await stream(producer, [good(4), { ...good(5), propertiesJson: '{"element":"\\u0000"}' }]).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect([refusedStream.code, violationsOf(refusedStream).map((v) => v.field), refusedStream.metadata.get('accepted')]).toEqual([grpc.status.INVALID_ARGUMENT, ['events[1].properties.element'], ['1']]);
    // deeper than the HTTP gateway takes a body: the check overflowed the stack and the call failed INTERNAL, no trailer
    const nestedTo = (depth: number) => `{"element":"x","nest":${'{"a":'.repeat(depth - 2)}{}${'}'.repeat(depth - 2)}}`;
    for (const depth of [1001, 5000, 100_000]) {
      expect(await refused('Ingest', { ...good(7), propertiesJson: nestedTo(depth) }), String(depth)).toEqual(invalid('propertiesJson: must nest arrays and objects at most 1000 levels deep'));
    }
    expect(await call(producer, 'Ingest', { ...good(7), propertiesJson: nestedTo(1000) })).toEqual({ eventId: 'grpc-rule-7' });
    expect(await refused('Ingest', { ...good(8), timestamp: '2016-12-31T23:59:60Z' })).toEqual(invalid(expect.stringMatching(/^timestamp: must not be a leap second/)));
    // a client whose clock is 4 minutes fast, more than the grace (60 s here)
    expect(await refused('Ingest', { ...good(9), timestamp: new Date(Date.now() + 4 * 60_000).toISOString() })).toEqual(invalid("timestamp: must be at most 1 min ahead of the server's clock (is the client's clock right?)"));
  });

  it('answers a range off the window boundaries with whole windows, saying which range they cover, as HTTP does', async () => {
    const { analytics } = clients!;
    // the first hour of the data, asked from 10:50 to 11:01: the hours 10:00 to 12:00
    const range = { from: new Date(BASE + 50 * 60_000).toISOString(), to: new Date(BASE + 61 * 60_000).toISOString() };
    const whole = { from: new Date(BASE).toISOString(), to: new Date(BASE + 2 * 3_600_000).toISOString() };
    const counts = await call(analytics, 'Counts', { ...range, window: '1h' });
    const hourly = expectedCounts(buildScenario('grpc', 2), 3_600_000);
    expect(counts).toEqual({ ...whole, series: hourly.series.filter((w) => w.windowStart < whole.to) });
    const http = await send(`${urls.analyticsHttp}/v1/analytics/counts?${new URLSearchParams({ ...range, window: '1h' })}`);
    expect(http.body).toEqual(counts);
    const summary = await call<{ from: string; to: string }>(analytics, 'MetricSummary', { name: 'cart_size', ...range, window: '5m' });
    expect([summary.from, summary.to]).toEqual([range.from, new Date(BASE + 65 * 60_000).toISOString()]);
    expect((await send(`${urls.analyticsHttp}/v1/metrics/cart_size/summary?${new URLSearchParams({ ...range, window: '5m' })}`)).body).toEqual(summary);
  });
});
