import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, type Fixture } from './support.js';

describe('a request whose path is routed for other methods only', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  it('is 405 method-not-allowed with the methods the path takes in Allow (RFC 9110 §15.5.6)', async () => {
    f = fixture();
    const put = await f.gateway.fastify.inject({ method: 'PUT', url: '/orders?dry=1', payload: { item: 'book' } });
    expect(put.statusCode).toBe(405);
    expect(put.headers['allow']).toBe('POST');
    expect(put.headers['content-type']).toContain('application/problem+json');
    expect(put.json()).toMatchObject({ status: 405, code: 'method-not-allowed', title: 'Method not allowed', instance: '/orders', detail: '/orders takes POST, not PUT' });
    // a parametric route: the path matches its pattern; GET routes answer HEAD too
    const del = await f.gateway.fastify.inject({ method: 'DELETE', url: '/orders/o-7' });
    expect(del.statusCode).toBe(405);
    expect(del.headers['allow']).toBe('GET, HEAD');
    // and nothing ran: no order was placed by the refused PUT
    expect(f.runs.count).toBe(0);
  });

  it('stays 404 not-found when no route takes the path, whatever the method', async () => {
    f = fixture();
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      const res = await f.gateway.fastify.inject({ method, url: '/invoices/1' });
      expect(res.statusCode).toBe(404);
      expect(res.headers['allow']).toBeUndefined();
      expect(res.json()).toMatchObject({ code: 'not-found' });
    }
    // a path one segment past a parametric route matches none of its methods either
    expect((await f.gateway.fastify.inject({ method: 'GET', url: '/orders/o-1/lines' })).statusCode).toBe(404);
  });

  it('takes no route with an empty path parameter: `/orders/` is 404 for every method, as `/orders/o-1/` is', async () => {
    f = fixture();
    // trailing slashes are not ignored: a known path with one is no route
    expect((await f.gateway.fastify.inject({ method: 'GET', url: '/orders/o-1/' })).json()).toMatchObject({ status: 404, detail: 'no route for GET /orders/o-1/' });
    const post = await f.gateway.fastify.inject({ method: 'POST', url: '/orders/', headers: { 'idempotency-key': 'k' }, payload: { item: 'book', quantity: 1 } });
    expect([post.statusCode, post.headers['allow']]).toEqual([404, undefined]);
    expect(post.json()).toMatchObject({ code: 'not-found', detail: 'no route for POST /orders/' });
    // GET /orders/:id would have run with id '' (and said "order  does not exist")
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await f.gateway.fastify.inject({ method, url: '/orders/?x=1' });
      expect([res.statusCode, res.headers['allow']]).toEqual([404, undefined]);
    }
    expect((await f.gateway.fastify.inject({ method: 'GET', url: '/orders/' })).json()).toMatchObject({ code: 'not-found', detail: 'no route for GET /orders/' });
    expect(f.runs.count).toBe(0);
  });

  it('is 405 when the path with an empty parameter is routed as it is for other methods', async () => {
    f = fixture();
    f.gateway.query({ url: '/things/', handle: async () => [] });
    f.gateway.command({ method: 'POST', url: '/things/:id', params: Type.Object({ id: Type.String() }), idempotency: 'off', handle: async ({ params }) => params });
    // fastify routes POST /things/ to /things/:id with id ''
    const post = await f.gateway.fastify.inject({ method: 'POST', url: '/things/' });
    expect([post.statusCode, post.headers['allow']]).toEqual([405, 'GET, HEAD']);
    expect((await f.gateway.fastify.inject({ method: 'POST', url: '/things/t-1' })).json()).toEqual({ id: 't-1' });
  });

  it("covers the gateway's own routes (the probes) as the app's", async () => {
    f = fixture();
    const post = await f.gateway.fastify.inject({ method: 'POST', url: '/livez' });
    expect(post.statusCode).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });
});
