import { connect } from 'node:net';
import { createApp } from '@herald/core';
import type { App } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../src/index.js';
import { captureLogger, type Line } from './support.js';

/** What an SDK throws: its own `code`, an HTTP `statusCode` of the call it made, and the resource in its message. */
function sdkError(): Error {
  return Object.assign(new Error('The specified key does not exist: s3://acme-internal-billing/invoices/2026/inv-77.pdf'), {
    name: 'NoSuchKey',
    code: 'NoSuchKey',
    statusCode: 404,
    $metadata: { httpStatusCode: 404 },
  });
}

describe("a route's thrown error that carries an HTTP status", () => {
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
    gateway = createGateway<MemoryTx>({ app });
    gateway.query({
      url: '/invoices/:kind',
      params: Type.Object({ kind: Type.String() }),
      handle: async ({ params }) => {
        if (params.kind === 'sdk') throw sdkError();
        // an http-errors style error, a catalog code on an error that is no Herald error
        if (params.kind === 'http') throw Object.assign(new Error('upstream refused: bad query for svc-billing@10.0.2.2'), { status: 400, statusCode: 400, expose: true });
        // JavaScript throws anything: an object without a prototype, which String() cannot print
        if (params.kind === 'bare') throw Object.assign(Object.create(null) as object, { statusCode: 404, reason: 'gone' });
        throw Object.assign(new Error('row 7 of /srv/ledger is locked'), { code: 'conflict' });
      },
    });
    gateway.command({ method: 'POST', url: '/orders', body: Type.Object({ item: Type.String() }), idempotency: 'off', handle: async () => ({ ok: true }) });
  }

  it.each(['sdk', 'http', 'code'])('%s: is a 500 with the generic detail, not its status and message; the log has it whole', async (kind) => {
    setUp();
    const res = await gateway.fastify.inject({ method: 'GET', url: `/invoices/${kind}` });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ status: 500, code: 'internal', detail: 'Internal server error' });
    expect(res.body).not.toMatch(/acme-internal-billing|10\.0\.2\.2|srv\/ledger/);
    const failure = lines.find((l) => l.msg === 'http: request failed')!;
    expect(failure).toMatchObject({ level: 'error', fields: { requestId: res.headers['x-request-id'], status: 500 } });
    expect((failure.fields['error'] as Error).message).toMatch(/acme-internal-billing|10\.0\.2\.2|srv\/ledger/);
  });

  it('answers a thrown value String() cannot print (no prototype) with a problem too: a 500, logged', async () => {
    setUp();
    const res = await gateway.fastify.inject({ method: 'GET', url: '/invoices/bare' });
    expect([res.statusCode, res.headers['content-type']]).toEqual([500, 'application/problem+json']);
    expect(res.json()).toMatchObject({ status: 500, code: 'internal', detail: 'Internal server error' });
    expect(lines.find((l) => l.msg === 'http: request failed')).toMatchObject({ level: 'error', fields: { requestId: res.headers['x-request-id'], status: 500 } });
  });

  it("still maps fastify's own errors by their status: a body over the limit is 413", async () => {
    setUp();
    const res = await gateway.fastify.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ item: 'x'.repeat(70_000) }) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'payload-too-large' });
  });

  it('does not log a client that went away in the middle of its body as a failure of ours', async () => {
    setUp();
    let reading = false;
    gateway.fastify.addHook('preParsing', async () => void (reading = true));
    const { port } = await gateway.listen({ port: 0 });
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.write('POST /orders HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"item":');
    for (let i = 0; i < 500 && !reading; i++) await new Promise((r) => setTimeout(r, 10));
    socket.destroy();
    for (let i = 0; i < 500 && !lines.some((l) => l.msg === 'request aborted by the client'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines.some((l) => l.msg === 'request aborted by the client')).toBe(true);
    expect(lines.filter((l) => l.msg === 'http: request failed')).toEqual([]);
  });
});
