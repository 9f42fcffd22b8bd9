import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeIdOf } from '../src/ingest.js';
import type { AnalyticsPipeline, PipelineUrls } from '../src/system.js';
import { httpBatch, httpSingle, send } from './support/client.js';
import { httpQueries, sendScenario, verifyQueries } from './support/drive.js';
import { startInProcess, tempDataDir } from './support/inProcess.js';
import { buildScenario, RANGE } from './support/scenario.js';

/**
 * Seed 001 in one process on the embedded engine (the default deployment), driven over HTTP:
 * in-order, out-of-order, duplicate, late and invalid events, and metric samples; every query
 * answers what the scenario computes from what it sent.
 */
describe('analytics-pipeline in one process, over HTTP', () => {
  const data = tempDataDir('analytics-http');
  let system: AnalyticsPipeline | undefined;
  let urls: PipelineUrls = {};
  beforeAll(async () => {
    ({ system, urls } = await startInProcess(data.dir));
  });
  afterAll(async () => {
    await system?.close();
    data.remove();
  });

  it('counts every accepted event once, in final windows only, and reports late and rejected events', { timeout: 120_000 }, async () => {
    const scenario = buildScenario('http');
    await sendScenario(urls.producerHttp!, [httpSingle(urls.producerHttp!), httpBatch(urls.producerHttp!)], scenario);
    await verifyQueries(httpQueries(urls.analyticsHttp!), scenario);
    expect(system!.store!.kind).toBe('duckdb');

    // what the consumer refused is in the dead letters, with its reason
    const letters = await system!.app.deadLetters();
    const byEvent = new Map(letters.map((l) => [l.eventId, l.reason]));
    expect(letters.length).toBe(scenario.deadLetters.size);
    for (const [eventId, reason] of scenario.deadLetters) expect(byEvent.get(envelopeIdOf(eventId))).toBe(reason);
  });

  it('answers problems: 413 over 1 MiB, 404 for an unknown route or user, 422 for a bad or missing range or window', async () => {
    const big = { events: Array.from({ length: 1000 }, (_, i) => ({ userId: `u-${i}`, type: 'click', timestamp: RANGE.from, properties: { element: 'x'.repeat(1100) } })) };
    const tooLarge = await send(`${urls.producerHttp}/v1/events:batch`, { body: big });
    expect([tooLarge.status, tooLarge.contentType]).toEqual([413, 'application/problem+json']);
    const tooMany = await send(`${urls.producerHttp}/v1/events:batch`, { body: { events: Array.from({ length: 1001 }, () => ({})) } });
    expect(tooMany.status).toBe(422);
    for (const path of ['/v1/eventsbatch', '/v1/events:other']) expect((await send(`${urls.producerHttp}${path}`, { body: { events: [] } })).status).toBe(404);
    const unknown = await send(`${urls.analyticsHttp}/v1/analytics/users/nobody`);
    expect([unknown.status, (unknown.body as { code: string }).code]).toEqual([404, 'user-not-found']);
    const badRange = await send(`${urls.analyticsHttp}/v1/analytics/counts?from=${RANGE.to}&to=${RANGE.from}&window=1m`);
    expect([badRange.status, (badRange.body as { code: string }).code]).toEqual([422, 'invalid-query']);
    const unbounded = await send(`${urls.analyticsHttp}/v1/analytics/late`);
    expect([unbounded.status, unbounded.contentType]).toEqual([422, 'application/problem+json']);
    const badWindow = await send(`${urls.analyticsHttp}/v1/analytics/counts?from=${RANGE.from}&to=${RANGE.to}&window=2m`);
    expect([badWindow.status, badWindow.contentType]).toEqual([422, 'application/problem+json']);
    // NUL, which the analytics store cannot keep, is refused at the door, not when its window closes
    const nul = { userId: 'u-nul', type: 'page_view', timestamp: RANGE.from, properties: { page: 'a\u0000b' } };
    const single = await send(`${urls.producerHttp}/v1/events`, { body: nul });
    expect([single.status, (single.body as { code: string }).code]).toEqual([422, 'schema-violation']);
    const inBatch = await send(`${urls.producerHttp}/v1/events:batch`, { body: { events: [{ ...nul, properties: { page: 'ok' } }, nul] } });
    expect([inBatch.status, (inBatch.body as { errors?: { path: string }[] }).errors?.map((e) => e.path)]).toEqual([422, ['/events/1/properties/page']]);
    const metric = await send(`${urls.producerHttp}/v1/metrics`, { body: { name: 'cpu', value: 1, timestamp: RANGE.from, labels: { 'host\u0000': 'a' } } });
    expect(metric.status).toBe(422);
    // half an emoji pair: the gateway refuses it in any body (the producer's own check stands behind it)
    const cut = await send(`${urls.producerHttp}/v1/events:batch`, { body: { events: [{ ...nul, properties: { page: 'caf\ud83d' } }] } });
    expect([cut.status, (cut.body as { errors?: { path: string }[] }).errors?.map((e) => e.path)]).toEqual([422, ['/events/0/properties/page']]);
    // a client 4 minutes fast, more than the grace (60 s here), and a leap second: 422 naming the timestamp, saying why
    const event = (timestamp: string) => ({ userId: 'u-clock', type: 'click', timestamp, properties: { element: 'x' } });
    const fast = await send(`${urls.producerHttp}/v1/events`, { body: event(new Date(Date.now() + 4 * 60_000).toISOString()) });
    expect([fast.status, (fast.body as { errors?: unknown[] }).errors]).toEqual([422, [{ path: '/timestamp', message: "must be at most 1 min ahead of the server's clock (is the client's clock right?)" }]]);
    const leap = await send(`${urls.producerHttp}/v1/events:batch`, { body: { events: [event('2016-12-31T23:59:60Z')] } });
    expect([leap.status, (leap.body as { errors?: unknown[] }).errors]).toEqual([422, [{ path: '/events/0/timestamp', message: expect.stringMatching(/^must not be a leap second/) }]]);
    const leapQuery = await send(`${urls.analyticsHttp}/v1/analytics/counts?from=2016-12-31T23:59:60Z&to=2017-01-01T00:00:00Z`);
    expect([leapQuery.status, (leapQuery.body as { detail: string }).detail]).toEqual([422, expect.stringContaining('from must not be a leap second')]);
    const generated = await send(`${urls.producerHttp}/v1/events`, { body: { userId: 'u-gen', type: 'signup', timestamp: RANGE.from, properties: {} } });
    expect(generated.status).toBe(202);
    expect((generated.body as { eventId: string }).eventId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
