import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, gate, type Fixture } from './support.js';

/**
 * Sends `head` (and never the rest of the request), then reads until the server closes the
 * connection. The client gives up after `giveUpMs` (a safety net, not a measure: a server that
 * never times the request out leaves the answer empty).
 */
function sendPartially(url: string, head: string, giveUpMs = 15_000): Promise<{ head: string; body: string; closedByServer: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let closedByServer = true;
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, giveUpMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      resolve({ head: at < 0 ? text : text.slice(0, at), body: at < 0 ? '' : text.slice(at + 4), closedByServer });
    });
    socket.write(head);
  });
}

const PARTIAL_ORDER = 'POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nIdempotency-Key: slow-1\r\nContent-Length: 40\r\n\r\n{"item":';

describe('a client that does not send its whole request', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close({ deadlineMs: 100 });
    await f.app.close();
  });

  it('gets 408 request-incomplete once requestTimeoutMs has passed, its connection closed before its route runs; a route slower than that is not cut', async () => {
    // 1 s, not less: the whole requests below are timed too, and on a loaded machine (CI's two
    // cores running other test files) one took over 200 ms to arrive and was refused with a 408
    f = fixture({ requestTimeoutMs: 1_000 });
    const { url } = await f.gateway.listen({ port: 0 });
    // a whole request whose route takes longer than the timeout: only receiving is timed
    f.hold = gate();
    const slowRoute = post(url, 'held-1');
    await until(() => f.runs.count === 1);

    const answer = await sendPartially(url, PARTIAL_ORDER);

    expect(answer.closedByServer).toBe(true);
    expect(answer.head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(answer.head).toContain('Content-Type: application/problem+json');
    expect(JSON.parse(answer.body)).toMatchObject({ type: 'urn:herald:problem:request-incomplete', status: 408, code: 'request-incomplete' });
    expect(f.runs.count).toBe(1);
    // the held route outlived the timeout (it started before the refused request) and still answers
    f.hold.open();
    expect((await slowRoute).status).toBe(201);
    // the gateway is unharmed: the refused request sent whole is served
    expect((await post(url, 'slow-1')).status).toBe(201);
  });

  it('has a request timeout by default (fastify turns Node\'s off), and refuses a bad one', async () => {
    f = fixture();
    expect(f.gateway.fastify.server.requestTimeout).toBe(30_000);
    expect(() => fixture({ requestTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('requestTimeoutMs') }));
  });
});

function post(url: string, key: string): Promise<Response> {
  return fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ item: 'book', quantity: 1 }),
  });
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}
