import { HeraldError, defineEvent } from '@herald/core';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpErrors } from '../src/index.js';
import { fixture, orderRows, type Fixture } from './support.js';

function post(f: Fixture, payload: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return f.gateway.fastify.inject({ method: 'POST', url: '/orders', headers: { 'idempotency-key': 'k', ...headers }, payload });
}

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ type: `urn:herald:problem:${code}`, status, code, instance: expect.any(String) });
  expect(typeof body['title']).toBe('string');
  expect(typeof body['detail']).toBe('string');
  return body;
}

describe('request limits, parsing and validation', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  it('answers 400 for malformed JSON', async () => {
    f = fixture();
    expectProblem(await post(f, '{"item": "book", '), 400, 'malformed-json');
    expectProblem(await post(f, ''), 400, 'malformed-json');
    expect(f.runs.count).toBe(0);
  });

  it('answers 422 forbidden-property, naming where, for a prototype-poisoning body (valid JSON, not malformed)', async () => {
    f = fixture();
    const proto = expectProblem(await post(f, '{"item":"book","quantity":1,"__proto__":{"x":1}}'), 422, 'forbidden-property');
    expect(proto['errors']).toEqual([{ path: '/__proto__', message: 'a property named __proto__ is refused (prototype poisoning)' }]);
    expect(proto['detail']).toMatch(/^the request body is valid JSON but has a property no route accepts: \/__proto__: /);
    // escaped, nested, and the constructor.prototype form
    const nested = expectProblem(await post(f, '{"item":{"a":[{"\\u005f_proto__":{}}]},"quantity":1,"constructor":{"prototype":{}}}'), 422, 'forbidden-property');
    expect((nested['errors'] as { path: string }[]).map((i) => i.path)).toEqual(['/constructor', '/item/a/0/__proto__']);
    expect(f.runs.count).toBe(0);
  });

  it('answers 413 for a body over the limit, and accepts one just under it', async () => {
    f = fixture();
    const big = JSON.stringify({ item: 'x'.repeat(64 * 1024), quantity: 1 });
    expectProblem(await post(f, big), 413, 'payload-too-large');
    const fits = JSON.stringify({ item: 'x'.repeat(64 * 1024 - 40), quantity: 1 });
    expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(64 * 1024);
    expect((await post(f, fits)).statusCode).toBe(201);
  });

  it('honours a configured body limit', async () => {
    f = fixture({ bodyLimitBytes: 100 });
    expectProblem(await post(f, JSON.stringify({ item: 'x'.repeat(100), quantity: 1 })), 413, 'payload-too-large');
  });

  it('answers 415 for a JSON body declared in a charset other than UTF-8, and 400 for one whose bytes are not UTF-8', async () => {
    f = fixture();
    // "Müller" in ISO-8859-1: the ü is the single byte 0xfc, which is no UTF-8
    const latin1 = Buffer.from('{"item":"M\xfcller","quantity":1}', 'latin1');
    for (const contentType of [
      'application/json; charset=iso-8859-1',
      'application/json;charset="ISO-8859-1"',
      'application/json; CHARSET=Windows-1252',
      'Application/JSON; charset=latin1',
      'application/json; charset=utf-8; charset=iso-8859-1',
    ]) {
      expect(expectProblem(await post(f, latin1, { 'content-type': contentType }), 415, 'unsupported-media-type')['detail']).toMatch(/UTF-8/);
    }
    // the refusal quotes the charset, but no more of it than the client's choice should write into the answer and the log
    const long = expectProblem(await post(f, '{}', { 'content-type': `application/json; charset=${'x'.repeat(4_000)}` }), 415, 'unsupported-media-type');
    expect(long['detail']).toBe(`a JSON body must be UTF-8, but the content type declares charset="${'x'.repeat(60)}…"`);
    // the charset is refused before the bytes are read: an ASCII body, or none, in it is refused too
    expectProblem(await post(f, JSON.stringify({ item: 'book', quantity: 1 }), { 'content-type': 'application/json; charset=us-ascii' }), 415, 'unsupported-media-type');
    expectProblem(await post(f, '', { 'content-type': 'application/json; charset=iso-8859-1' }), 415, 'unsupported-media-type');
    // a quoted parameter may hold a semicolon: what it holds is not a charset
    expect((await post(f, JSON.stringify({ item: 'book', quantity: 1 }), { 'content-type': 'application/json; profile="a;charset=latin1"', 'idempotency-key': 'q' })).statusCode).toBe(201);
    for (const contentType of ['application/json', 'application/json; charset=utf-8']) {
      expect(expectProblem(await post(f, latin1, { 'content-type': contentType }), 400, 'malformed-json')['detail']).toMatch(/UTF-8/);
    }
    // a lone continuation byte, and a multi-byte character cut short at the end of the body
    expectProblem(await post(f, Buffer.concat([Buffer.from('{"item":"a'), Buffer.from([0x80]), Buffer.from('","quantity":1}')])), 400, 'malformed-json');
    expectProblem(await post(f, Buffer.concat([Buffer.from('{"item":"a","quantity":1}'), Buffer.from('ü').subarray(0, 1)])), 400, 'malformed-json');
    expect(f.runs.count).toBe(1);
    expect(await orderRows(f.stores)).toEqual(['orders/o-1']);
  });

  it('keeps a UTF-8 body\'s text exactly, whether or how it names the charset', async () => {
    f = fixture();
    const body = Buffer.from('{"item":"M\u00fcller \u2014 \ud83d\udcda","quantity":1}', 'utf8');
    for (const [i, contentType] of ['application/json', 'application/json; charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; charset=utf8'].entries()) {
      const res = await post(f, body, { 'content-type': contentType, 'idempotency-key': `u-${i}` });
      expect(res.statusCode).toBe(201);
      const { orderId } = res.json() as { orderId: string };
      const stored = await f.gateway.fastify.inject({ method: 'GET', url: `/orders/${orderId}` });
      expect(stored.json()).toMatchObject({ item: 'M\u00fcller \u2014 \ud83d\udcda' });
    }
  });

  it('answers 422 for text no store can keep — U+0000 or a lone surrogate, in a value or a name, in the body, the path or the query — and takes an escaped backslash before u', async () => {
    f = fixture();
    const nul = expectProblem(await post(f, '{"item":"bo\\u0000ok","quantity":1}'), 422, 'schema-violation');
    expect(nul['errors']).toEqual([{ path: '/item', message: 'must not contain U+0000 (NUL)' }]);
    const lone = expectProblem(await post(f, '{"item":"book \\ud83d","quantity":1}'), 422, 'schema-violation');
    expect(lone['errors']).toEqual([{ path: '/item', message: 'must not contain a lone UTF-16 surrogate' }]);
    // a name, on a route whose schema would only say "unexpected property" after the fact
    const name = expectProblem(await post(f, '{"item":"book","quantity":1,"a/b\\u0000":1}'), 422, 'schema-violation');
    expect(name['errors']).toEqual([{ path: '/a~1b\u0000', message: 'its name must not contain U+0000 (NUL)' }]);
    for (const url of ['/orders/o-1%00', '/orders/o-1?x=%00', '/nowhere/%00']) {
      expectProblem(await f.gateway.fastify.inject({ method: 'GET', url }), 422, 'schema-violation');
    }
    expect(f.runs.count).toBe(0);
    // a backslash escaped before u0000 is text, and a whole surrogate pair an emoji
    const text = await post(f, '{"item":"C:\\\\u0000 \\ud83d\\udcda","quantity":1}');
    expect(text.statusCode).toBe(201);
    const stored = await f.gateway.fastify.inject({ method: 'GET', url: `/orders/${(text.json() as { orderId: string }).orderId}` });
    expect(stored.json()).toMatchObject({ item: 'C:\\u0000 \ud83d\udcda' });
    expect((await f.gateway.fastify.inject({ method: 'GET', url: '/orders/o-%2500' })).statusCode).toBe(404);
    // a query whose percent-encoding is not UTF-8 would be read as U+FFFD, another value: 400 as such a path is
    for (const url of ['/orders/o-1?x=%ED%A0%BD', '/orders/o-1?x=%FF']) {
      expectProblem(await f.gateway.fastify.inject({ method: 'GET', url }), 400, 'bad-request');
    }
    expect((await f.gateway.fastify.inject({ method: 'GET', url: '/orders/o-404?x=%E2%80%94%20y+z' })).statusCode).toBe(404);
  });

  it('answers 422 listing missing, extra and wrongly typed fields', async () => {
    f = fixture();
    const res = await post(f, JSON.stringify({ quantity: 'two', colour: 'red' }));
    const body = expectProblem(res, 422, 'schema-violation');
    const errors = body['errors'] as { path: string; message: string }[];
    expect(errors.map((e) => e.path).sort()).toEqual(['/colour', '/item', '/quantity']);
    expect(errors.find((e) => e.path === '/item')!.message).toMatch(/required/i);
    expect(errors.find((e) => e.path === '/colour')!.message).toMatch(/unexpected/i);
    expect(errors.find((e) => e.path === '/quantity')!.message).toMatch(/integer/i);
    expect(f.runs.count).toBe(0);
  });

  it('answers 422 for a constraint violation and for a body that is not an object', async () => {
    f = fixture();
    const low = expectProblem(await post(f, JSON.stringify({ item: 'book', quantity: 0 })), 422, 'schema-violation');
    expect(low['errors']).toEqual([{ path: '/quantity', message: expect.stringMatching(/greater or equal to 1/) }]);
    const array = expectProblem(await post(f, '[1,2]'), 422, 'schema-violation');
    expect((array['errors'] as unknown[]).length).toBeGreaterThan(0);
  });

  it('answers 404 problem+json for an unknown route and a missing resource', async () => {
    f = fixture();
    expectProblem(await f.gateway.fastify.inject({ method: 'GET', url: '/nowhere' }), 404, 'not-found');
    const missing = expectProblem(await f.gateway.fastify.inject({ method: 'GET', url: '/orders/o-404' }), 404, 'not-found');
    expect(missing['detail']).toBe('order o-404 does not exist');
    expect(missing['instance']).toBe('/orders/o-404');
  });

  it('answers 500 without leaking the error message', async () => {
    f = fixture();
    const res = await f.gateway.fastify.inject({ method: 'GET', url: '/boom' });
    const body = expectProblem(res, 500, 'internal');
    expect(JSON.stringify(body)).not.toContain('secret');
  });

  it("answers 500 with the generic detail for an error raised with the internal code, not the error's message", async () => {
    f = fixture();
    f.gateway.query({
      url: '/verify',
      handle: async () => {
        throw new HeraldError(HttpErrors.internal, 'token verification failed unexpectedly: RS256 requires key modulusLength to be 2048 bits or larger');
      },
    });
    const body = expectProblem(await f.gateway.fastify.inject({ method: 'GET', url: '/verify' }), 500, 'internal');
    expect(body['detail']).toBe('Internal server error');
  });

  it('takes a body nested maxBodyDepth levels, publishes it and replays it; one level deeper is 400 body-too-deep', async () => {
    f = fixture();
    const Document = defineEvent({ type: 'DocumentStored', topic: 'documents', schema: Type.Object({ body: Type.Unknown() }), key: () => 'doc' });
    f.gateway.command({
      method: 'POST',
      url: '/documents',
      body: Type.Unknown(),
      status: 201,
      handle: async ({ body, publish }) => {
        // what a storing route does with a body: JSON.stringify recurses through it
        await publish(Document, { body });
        let depth = 0;
        for (let level = body; Array.isArray(level); level = level[0]) depth++;
        return { depth };
      },
    });
    const send = (payload: string, key: string) =>
      f.gateway.fastify.inject({ method: 'POST', url: '/documents', headers: { 'content-type': 'application/json', 'idempotency-key': key }, payload });
    const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    const first = await send(nested(1_000), 'deep-1');
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ depth: 1_000 });
    const again = await send(nested(1_000), 'deep-1');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    // one level more, and 10 KB nesting 5,000 levels (where JSON.stringify overflows the stack): refused before parsing
    expect(expectProblem(await send(nested(1_001), 'deep-2'), 400, 'body-too-deep')['detail']).toMatch(/more than 1000 levels/);
    expectProblem(await send(nested(5_000), 'deep-3'), 400, 'body-too-deep');
    const objects = `${'{"a":'.repeat(1_001)}1${'}'.repeat(1_001)}`;
    expectProblem(await send(objects, 'deep-4'), 400, 'body-too-deep');
    // brackets inside strings (escaped quotes too) are text, not nesting
    const text = JSON.stringify([`\\"${'['.repeat(2_000)}`, '{'.repeat(2_000)]);
    expect((await send(text, 'deep-5')).statusCode).toBe(201);
    expect(await f.stores.outbox.backlog()).toMatchObject([{ topic: 'documents', pending: 2 }]);
  });

  it('honours a configured maxBodyDepth, and refuses a bad one', async () => {
    f = fixture({ maxBodyDepth: 2 });
    expect((await post(f, JSON.stringify({ item: 'book', quantity: 1, tags: ['a'] }))).statusCode).toBe(422);
    expectProblem(await post(f, JSON.stringify({ item: 'book', quantity: 1, tags: [['a']] })), 400, 'body-too-deep');
    expect((await post(f, JSON.stringify({ item: 'book', quantity: 1 }))).statusCode).toBe(201);
    for (const bad of [0, 1.5, -1, Number.NaN]) {
      expect(() => fixture({ maxBodyDepth: bad })).toThrow(/maxBodyDepth/);
    }
  });

  it('answers router refusals with problem+json: a path that does not percent-decode (400), a path parameter too long (414)', async () => {
    f = fixture();
    const bad = expectProblem(await f.gateway.fastify.inject({ method: 'GET', url: '/orders/%zz' }), 400, 'bad-request');
    expect(bad['detail']).toMatch(/not a valid URL/);
    const long = expectProblem(await f.gateway.fastify.inject({ method: 'GET', url: `/orders/${'x'.repeat(385)}` }), 414, 'uri-too-long');
    expect(long['detail']).not.toContain('xxxx');
    // the longest correlation id (128 characters), every one percent-encoded, still reaches the route
    const encoded = expectProblem(await f.gateway.fastify.inject({ method: 'GET', url: `/orders/${'%2F'.repeat(128)}` }), 404, 'not-found');
    expect(encoded['detail']).toBe(`order ${'/'.repeat(128)} does not exist`);
  });
});

describe('health', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.app.close();
  });

  it('is live from the start and ready only between markReady and close', async () => {
    f = fixture();
    const inject = (url: string) => f.gateway.fastify.inject({ method: 'GET', url });
    expect((await inject('/livez')).statusCode).toBe(200);
    const starting = await inject('/readyz');
    expect(starting.statusCode).toBe(503);
    expect(starting.headers['content-type']).toBe('application/problem+json');
    expect(starting.json()).toMatchObject({ status: 503, code: 'unavailable', detail: 'not ready: starting' });
    f.gateway.markReady();
    expect((await inject('/readyz')).json()).toEqual({ status: 'ready' });
    await f.gateway.close();
    expect(f.gateway.readiness.state).toBe('closed');
  });
});
