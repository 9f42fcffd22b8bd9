import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, orderRows, type Fixture } from './support.js';

const ORDER = JSON.stringify({ item: 'book', quantity: 1 });

describe('a body with a Content-Encoding', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  function post(encoding: string, payload: string | Buffer, key: string) {
    return f.gateway.fastify.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding, 'idempotency-key': key },
      payload,
    });
  }

  it('is refused with 415 naming the encoding when it is gzipped, not called invalid UTF-8', async () => {
    f = fixture();
    const res = await post('gzip', gzipSync(ORDER), 'gz-1');
    expect(res.statusCode).toBe(415);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['accept-encoding']).toBe('identity');
    expect(res.json()).toMatchObject({ status: 415, code: 'content-encoding-unsupported', detail: expect.stringContaining('"gzip"') });
    expect(res.json().detail).not.toMatch(/UTF-8/);
  });

  it('is refused when the body is plain but says it is encoded: what the client meant cannot be known', async () => {
    f = fixture();
    const res = await post('br, gzip', ORDER, 'gz-2');
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'content-encoding-unsupported', detail: expect.stringContaining('"br, gzip"') });
    expect(await orderRows(f.stores)).toEqual([]);
    expect(f.runs.count).toBe(0);
  });

  it('is read as it is when the encoding is identity', async () => {
    f = fixture();
    const res = await post('Identity', ORDER, 'id-1');
    expect(res.statusCode).toBe(201);
  });
});
