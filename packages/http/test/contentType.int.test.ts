import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, PlaceOrder, type Fixture } from './support.js';

const ORDER = JSON.stringify({ item: 'book', quantity: 1 });

describe("a body's Content-Type", () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  function post(url: string, contentType: string | undefined, key: string, payload: string | undefined = ORDER) {
    const headers = { 'idempotency-key': key, ...(contentType === undefined ? {} : { 'content-type': contentType }) };
    return f.gateway.fastify.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) });
  }

  function expect415(res: Awaited<ReturnType<typeof post>>, accept: string) {
    expect([res.statusCode, res.headers['content-type'], res.headers['accept']]).toEqual([415, 'application/problem+json', accept]);
    const problem = res.json() as { code: string; detail: string };
    expect(problem.code).toBe('unsupported-media-type');
    return problem.detail;
  }

  it('is application/json by default, with or without parameters; anything else is 415 listing it in Accept', async () => {
    f = fixture();
    expect((await post('/orders', 'application/json', 'a')).statusCode).toBe(201);
    expect((await post('/orders', 'Application/JSON; charset=utf-8', 'b')).statusCode).toBe(201);
    expect(expect415(await post('/orders', 'text/plain', 'c'), 'application/json')).toBe('the request body\'s Content-Type must be application/json, not "text/plain"');
    expect415(await post('/orders', 'application/x-www-form-urlencoded', 'd'), 'application/json');
    expect(expect415(await post('/orders', undefined, 'e'), 'application/json')).toMatch(/none was given$/);
    expect415(await post('/orders', undefined, 'f', undefined), 'application/json');
    expect(f.runs.count).toBe(2);
  });

  it('takes a +json type only on a route that declares it: merge-patch (null deletes a field) is no plain body', async () => {
    f = fixture();
    f.gateway.command({
      method: 'POST',
      url: '/orders/v2',
      body: PlaceOrder,
      contentTypes: ['application/json', 'application/vnd.Orders+json'],
      idempotency: 'off',
      handle: async ({ headers }) => ({ as: headers['content-type'] }),
    });
    for (const type of ['application/merge-patch+json', 'application/json-patch+json', 'application/vnd.orders+json', 'application/problem+json; charset=utf-8']) {
      expect(expect415(await post('/orders', type, type), 'application/json')).toContain(JSON.stringify(type.split(';')[0]));
    }
    expect((await post('/orders/v2', 'application/vnd.orders+json', 'g')).json()).toEqual({ as: 'application/vnd.orders+json' });
    expect((await post('/orders/v2', 'application/vnd.orders+json; charset=utf-8', 'h')).statusCode).toBe(200);
    expect((await post('/orders/v2', 'application/json', 'i')).statusCode).toBe(200);
    const accept = 'application/json, application/vnd.orders+json';
    expect(expect415(await post('/orders/v2', 'application/merge-patch+json', 'j'), accept)).toMatch(/^the request body's Content-Type must be one of application\/json, /);
    expect415(await post('/orders/v2', 'application/vnd.orders+jsonx', 'k'), accept);
    // refused before the body is read: a malformed body of a refused type is a 415, not a 400
    expect415(await post('/orders', 'application/merge-patch+json', 'l', '{"item":'), 'application/json');
    expect(f.runs.count).toBe(0);
  });

  it('declared on a route is checked when the route is declared', () => {
    f = fixture();
    const declare = (contentTypes: unknown, body: boolean = true) =>
      f.gateway.ingest({ url: '/ingest', ...(body ? { body: PlaceOrder } : {}), contentTypes: contentTypes as string[], handle: async () => null });
    for (const [contentTypes, message] of [
      [[], /non-empty array/],
      ['application/json', /non-empty array/],
      [['text/plain'], /got "text\/plain"/],
      [['application/json; charset=utf-8'], /without parameters/],
      [['application/json', 7], /got "7"/],
    ] as const) {
      expect(() => declare(contentTypes)).toThrow(message);
    }
    expect(() => declare(['application/json'], false)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringMatching(/^ingest POST \/ingest: contentTypes needs a body schema/) }));
    expect(() => f.gateway.ingest({ url: '/ok', body: Type.Object({}), contentTypes: ['application/geo+json'], handle: async () => null })).not.toThrow();
  });
});
