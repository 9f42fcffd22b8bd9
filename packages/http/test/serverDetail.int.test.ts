import { CoreErrors, createApp, HeraldError } from '@herald/core';
import type { App } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../src/index.js';
import { captureLogger, fixture, gate, type Fixture, type Line } from './support.js';

/** What the core's and the adapters' 5xx errors say: hosts, files, another service's complaint. */
const FAILURES: Readonly<Record<string, HeraldError>> = {
  kafka: new HeraldError(CoreErrors.brokerUnavailable, 'kafka: connect ECONNREFUSED 10.0.3.17:9092', { retriable: true }),
  log: new HeraldError(CoreErrors.brokerUnavailable, 'log append: /srv/herald/data/log-orders.db stayed locked by another connection past busyTimeoutMs', { retriable: true }),
  slow: new HeraldError(CoreErrors.timeout, 'kafka: publishing to orders-internal took over 5000 ms', { retriable: true }),
  closing: new HeraldError(CoreErrors.closed, 'pgStores: the stores are closed (postgres://herald@10.0.4.2/orders)'),
  store: new HeraldError('store-unavailable', '/srv/herald/data/stores.db: SQLITE_IOERR_FSYNC', { retriable: true }),
  payments: new HeraldError('payments-down', 'POST https://10.0.9.9/internal/charge answered 502'),
  reply: new HeraldError('reply-invalid', 'the reply is not a valid Profile: /ssn: Expected string'),
  waiting: new HeraldError('request-timeout', 'no ProfileReturned from profiles-internal within 50 ms', { retriable: true }),
};

describe('a 5xx the gateway did not word itself', () => {
  let app: App<MemoryTx>;
  let gateway: Gateway<MemoryTx>;
  let lines: Line[];
  afterEach(async () => {
    await gateway.close();
    await app.close();
  });

  function setUp(): void {
    lines = [];
    app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), logger: captureLogger(lines) });
    gateway = createGateway<MemoryTx>({ app, problems: { errorKinds: { 'payments-down': 'unavailable' } } });
    gateway.query({
      url: '/fail/:what',
      handle: async ({ params }) => {
        throw FAILURES[(params as { what: string }).what];
      },
    });
  }

  it.each([
    ['kafka', 503, 'broker-unavailable', 'the event log is unavailable; retry later'],
    ['log', 503, 'broker-unavailable', 'the event log is unavailable; retry later'],
    ['slow', 503, 'timeout', 'the service did not finish in time; retry later'],
    ['closing', 503, 'closed', 'the service is shutting down; retry later'],
    ['store', 503, 'unavailable', 'the service cannot take the request now; retry later'],
    ['payments', 503, 'payments-down', 'the service cannot take the request now; retry later'],
    ['reply', 502, 'reply-invalid', 'a service this one depends on gave an unusable answer'],
    ['waiting', 504, 'request-timeout', 'a service this one depends on did not answer in time; retry later'],
  ])('%s: answers %i %s with the generic detail of its code, the message logged under the request id', async (what, status, code, detail) => {
    setUp();
    const res = await gateway.fastify.inject({ method: 'GET', url: `/fail/${what}` });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toEqual({ type: `urn:herald:problem:${code}`, title: expect.any(String), status, detail, instance: `/fail/${what}`, code });
    if (status === 503) expect(res.headers['retry-after']).toBe('1');
    const failure = lines.find((l) => l.msg === 'http: request failed')!;
    expect(failure.fields).toMatchObject({ requestId: res.headers['x-request-id'], status, code });
    expect(failure.fields['error']).toBe(FAILURES[what]);
  });
});

describe("the gateway's own 5xx wording", () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close({ deadlineMs: 100 });
    await f.app.close();
  });

  it('is kept: a request arriving once shutdown began is told so', async () => {
    f = fixture();
    f.hold = gate();
    const held = f.gateway.fastify.inject({ method: 'POST', url: '/orders', headers: { 'idempotency-key': 'k-1' }, payload: { item: 'book', quantity: 1 } });
    for (let i = 0; i < 500 && f.runs.count === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const closed = f.gateway.close();
    const late = await f.gateway.fastify.inject({ method: 'GET', url: '/orders/o-1' });
    f.hold.open();
    expect((await held).statusCode).toBe(201);
    await closed;
    expect(late.statusCode).toBe(503);
    expect(late.json()).toMatchObject({ code: 'unavailable', detail: 'the server is shutting down' });
  });
});
