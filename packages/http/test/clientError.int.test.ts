import { afterEach, describe, expect, it } from 'vitest';
import { fixture, rawRequest as raw, type Fixture } from './support.js';

describe('requests the HTTP parser refuses', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  it('answers problem+json and closes: a raw non-ASCII URL (400), headers over the limit (431); the next connection is served', async () => {
    f = fixture();
    const { url } = await f.gateway.listen({ port: 0, host: '127.0.0.1' });

    const nonAscii = await raw(url, Buffer.from('GET /orders/кино HTTP/1.1\r\nHost: localhost\r\n\r\n', 'utf8'));
    expect(nonAscii.head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(nonAscii.head).toContain('Content-Type: application/problem+json');
    expect(nonAscii.head).toContain('Connection: close');
    expect(JSON.parse(nonAscii.body)).toMatchObject({ type: 'urn:herald:problem:bad-request', status: 400, code: 'bad-request', detail: expect.stringContaining('percent-encoded') });

    const huge = await raw(url, `GET /orders/o-1 HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    expect(huge.head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(JSON.parse(huge.body)).toMatchObject({ type: 'urn:herald:problem:headers-too-large', status: 431, code: 'headers-too-large' });

    // the server is unharmed, and the same path percent-encoded is an ordinary request
    const encoded = await fetch(`${url}/orders/${encodeURIComponent('кино')}`);
    expect(encoded.status).toBe(404);
    expect(encoded.headers.get('content-type')).toBe('application/problem+json');
  });
});
