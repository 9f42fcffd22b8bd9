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

  it("covers the gateway's own routes (the probes) as the app's", async () => {
    f = fixture();
    const post = await f.gateway.fastify.inject({ method: 'POST', url: '/livez' });
    expect(post.statusCode).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });
});
