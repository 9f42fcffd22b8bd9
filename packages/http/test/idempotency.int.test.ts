import { createManualClock } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { requestFingerprint } from '../src/index.js';
import { fixture, gate, orderRows, outboxOf, rawRequest, type Fixture } from './support.js';

const json = { 'content-type': 'application/json' };

function post(f: Fixture, body: unknown, key?: string, headers: Record<string, string> = json) {
  return f.gateway.fastify.inject({
    method: 'POST',
    url: '/orders',
    headers: key === undefined ? headers : { ...headers, 'idempotency-key': key },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('Idempotency-Key on a command route', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
  });

  it('commits the row, its outbox event and the key together, and answers 201 with a location', async () => {
    f = fixture();
    const res = await post(f, { item: 'book', quantity: 1 }, 'k-1');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ orderId: 'o-1', status: 'CREATED' });
    expect(res.headers['location']).toBe('/orders/o-1');
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(await orderRows(f.stores)).toEqual(['orders/o-1']);
    expect((await outboxOf(f.stores, 'o-1')).map((r) => r.type)).toEqual(['OrderPlaced']);
    expect(await f.stores.idempotency.begin({ key: 'k-1', fingerprint: 'other', now: Date.now(), ttlMs: 1000 })).toEqual({ outcome: 'mismatch' });
  });

  it('replays the first response for the same key and body, without running the work again', async () => {
    f = fixture();
    const first = await post(f, { item: 'book', quantity: 2 }, 'k-2');
    // same JSON, other key order and whitespace: the same request
    const again = await post(f, '{ "quantity": 2,  "item": "book" }', 'k-2');
    expect(again.statusCode).toBe(first.statusCode);
    expect(again.body).toBe(first.body);
    expect(again.headers['location']).toBe(first.headers['location']);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(f.runs.count).toBe(1);
    expect(await orderRows(f.stores)).toEqual(['orders/o-1']);
    expect(await outboxOf(f.stores, 'o-1')).toHaveLength(1);
  });

  it('accepts the structured-field (quoted) form of the key as the same key', async () => {
    f = fixture();
    await post(f, { item: 'book', quantity: 1 }, 'abc');
    const quoted = await post(f, { item: 'book', quantity: 1 }, '"abc"');
    expect(quoted.headers['idempotent-replayed']).toBe('true');
    expect(f.runs.count).toBe(1);
  });

  it('answers 422 problem+json when the key is reused with a different body', async () => {
    f = fixture();
    await post(f, { item: 'book', quantity: 1 }, 'k-3');
    const res = await post(f, { item: 'book', quantity: 5 }, 'k-3');
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ status: 422, code: 'idempotency-key-reused', type: 'urn:herald:problem:idempotency-key-reused', instance: '/orders' });
    expect(f.runs.count).toBe(1);
  });

  it('answers 409 while the first request with the key is in flight, then replays it', async () => {
    f = fixture();
    f.hold = gate();
    const first = post(f, { item: 'book', quantity: 1 }, 'k-4');
    await until(() => f.runs.count === 1);
    const during = await post(f, { item: 'book', quantity: 1 }, 'k-4');
    expect(during.statusCode).toBe(409);
    expect(during.headers['retry-after']).toBe('1');
    expect(during.json()).toMatchObject({ status: 409, code: 'idempotency-key-in-flight', title: expect.any(String), detail: expect.stringContaining('k-4') });
    f.hold.open();
    expect((await first).statusCode).toBe(201);
    const after = await post(f, { item: 'book', quantity: 1 }, 'k-4');
    expect(after.statusCode).toBe(201);
    expect(after.headers['idempotent-replayed']).toBe('true');
    expect(f.runs.count).toBe(1);
  });

  it('rolls back the row and the event when the work fails, and lets a retry with the same key run', async () => {
    f = fixture();
    f.failNext = new Error('disk on fire');
    const failed = await post(f, { item: 'book', quantity: 1 }, 'k-5');
    expect(failed.statusCode).toBe(500);
    expect(failed.json()).toMatchObject({ status: 500, code: 'internal', detail: 'Internal server error' });
    expect(failed.body).not.toContain('disk on fire');
    expect(await orderRows(f.stores)).toEqual([]);
    expect(await outboxOf(f.stores, 'o-1')).toEqual([]);
    const retried = await post(f, { item: 'book', quantity: 1 }, 'k-5');
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await orderRows(f.stores)).toEqual(['orders/o-2']);
  });

  it('maps a domain error through errorKinds and does not remember it', async () => {
    f = fixture();
    const res = await post(f, { item: 'unobtainium', quantity: 1 }, 'k-6');
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ status: 409, code: 'out-of-stock', type: 'urn:herald:problem:out-of-stock', title: 'Conflict', detail: 'unobtainium is out of stock' });
    await post(f, { item: 'unobtainium', quantity: 1 }, 'k-6');
    expect(f.runs.count).toBe(2);
  });

  it('lets a retry take over a key whose request died with its process, once the lease lapses', async () => {
    const clock = createManualClock(1_000);
    f = fixture({ clock, idempotency: { leaseMs: 5_000 } });
    const body = { item: 'book', quantity: 1 };
    // what a process that died mid-request leaves behind: the key in flight under its lease
    const fingerprint = requestFingerprint({ method: 'POST', path: '/orders', body });
    await f.stores.idempotency.begin({ key: 'k-dead', fingerprint, now: 1_000, ttlMs: 86_400_000, leaseMs: 5_000 });
    expect((await post(f, body, 'k-dead')).statusCode).toBe(409);
    await clock.advance(4_999);
    expect((await post(f, body, 'k-dead')).statusCode).toBe(409);
    expect(f.runs.count).toBe(0);
    await clock.advance(1);
    const taken = await post(f, body, 'k-dead');
    expect(taken.statusCode).toBe(201);
    expect(taken.headers['idempotent-replayed']).toBeUndefined();
    const replay = await post(f, body, 'k-dead');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(taken.body);
    expect(f.runs.count).toBe(1);
    // the response is kept for the full TTL, not just the lease
    await clock.advance(86_000_000);
    expect((await post(f, body, 'k-dead')).headers['idempotent-replayed']).toBe('true');
  });

  it('commits a request once when it outlives its lease: the slow attempt rolls back and answers with the retry\'s response', async () => {
    const clock = createManualClock(1_000);
    f = fixture({ clock, idempotency: { leaseMs: 5_000 } });
    const body = { item: 'book', quantity: 1 };
    f.hold = gate();
    const slow = post(f, body, 'k-slow');
    // the slow attempt has written its row and event and waits inside its transaction
    await until(() => f.runs.count === 1);
    const held = f.hold;
    f.hold = undefined;
    await clock.advance(5_000);
    const retry = await post(f, body, 'k-slow');
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual({ orderId: 'o-2', status: 'CREATED' });
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    held.open();
    const late = await slow;
    expect(late.statusCode).toBe(201);
    expect(late.headers['idempotent-replayed']).toBe('true');
    expect(late.body).toBe(retry.body);
    expect(await orderRows(f.stores)).toEqual(['orders/o-2']);
    expect(await outboxOf(f.stores, 'o-1')).toEqual([]);
    expect(await outboxOf(f.stores, 'o-2')).toHaveLength(1);
    // the key still answers with the one committed response
    const again = await post(f, body, 'k-slow');
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(retry.body);
    expect(f.runs.count).toBe(2);
  });

  it('keeps the retry\'s key in flight when the slow attempt it took over fails', async () => {
    const clock = createManualClock(1_000);
    f = fixture({ clock, idempotency: { leaseMs: 5_000 } });
    const body = { item: 'book', quantity: 1 };
    f.hold = gate();
    const slow = post(f, body, 'k-fail');
    await until(() => f.runs.count === 1);
    const slowGate = f.hold;
    await clock.advance(5_000);
    // the retry takes the key over and is itself held in its work
    f.hold = gate();
    const retry = post(f, body, 'k-fail');
    await until(() => f.runs.count === 2);
    const retryGate = f.hold;
    f.hold = undefined;
    f.failNext = new Error('slow attempt failed');
    slowGate.open();
    expect((await slow).statusCode).toBe(500);
    // the failed attempt let go of nothing it no longer held: a third copy cannot start
    const third = await post(f, body, 'k-fail');
    expect(third.statusCode).toBe(409);
    retryGate.open();
    expect((await retry).statusCode).toBe(201);
    expect(await orderRows(f.stores)).toEqual(['orders/o-2']);
    expect(f.runs.count).toBe(2);
  });

  it('lets the same key be used with another body after the first request failed', async () => {
    f = fixture();
    f.failNext = new Error('boom');
    expect((await post(f, { item: 'book', quantity: 1 }, 'k-8')).statusCode).toBe(500);
    expect((await post(f, { item: 'pen', quantity: 3 }, 'k-8')).statusCode).toBe(201);
  });

  it.each([
    ['missing', undefined, 'idempotency-key-missing'],
    ['empty', '', 'idempotency-key-invalid'],
    ['too long', 'x'.repeat(256), 'idempotency-key-invalid'],
    ['non-ASCII', 'ключ', 'idempotency-key-invalid'],
    ['badly quoted', '"a"b"', 'idempotency-key-invalid'],
  ])('answers 400 problem+json for a %s key', async (_name, key, code) => {
    f = fixture();
    const res = await post(f, { item: 'book', quantity: 1 }, key);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ status: 400, code, type: `urn:herald:problem:${code}` });
    expect(f.runs.count).toBe(0);
  });

  it('answers 400 for a key sent in two header lines, which Node would join into one key "b7, b8"', async () => {
    f = fixture();
    // over a socket: inject builds its headers from an object, one line per name
    const { url } = await f.gateway.listen({ port: 0, host: '127.0.0.1' });
    const body = JSON.stringify({ item: 'book', quantity: 1 });
    const twice = await rawPost(url, ['Idempotency-Key: b7', 'idempotency-key: b8'], body);
    expect(twice.status).toBe(400);
    expect(twice.contentType).toBe('application/problem+json');
    expect(twice.json).toMatchObject({ status: 400, code: 'idempotency-key-invalid', detail: expect.stringMatching(/once/) });
    // a repeat with nothing in the first line would have become the key ", b8"
    expect((await rawPost(url, ['Idempotency-Key:', 'Idempotency-Key: b8'], body)).status).toBe(400);
    expect(f.runs.count).toBe(0);
    // nothing was stored under the joined value: a single header spelling it is a new request
    const joined = await rawPost(url, ['Idempotency-Key: b7, b8'], body);
    expect(joined.status).toBe(201);
    expect(joined.replayed).toBeUndefined();
    expect(f.runs.count).toBe(1);
  });

  it('accepts a key of exactly 255 printable characters', async () => {
    f = fixture();
    const res = await post(f, { item: 'book', quantity: 1 }, '~'.repeat(255));
    expect(res.statusCode).toBe(201);
  });

  it('forgets a key after its TTL, so it can be used again', async () => {
    f = fixture({ idempotency: { ttlMs: 50, leaseMs: 20 } });
    await post(f, { item: 'book', quantity: 1 }, 'k-7');
    await new Promise((r) => setTimeout(r, 60));
    const res = await post(f, { item: 'pen', quantity: 1 }, 'k-7');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ orderId: 'o-2', status: 'CREATED' });
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** POSTs /orders over a socket with `headerLines` as written (repeats and all), and reads the one response. */
async function rawPost(url: string, headerLines: readonly string[], body: string): Promise<{ status: number; contentType: string | undefined; replayed: string | undefined; json: unknown }> {
  const { hostname } = new URL(url);
  const head = ['POST /orders HTTP/1.1', `Host: ${hostname}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', ...headerLines];
  const response = await rawRequest(url, `${head.join('\r\n')}\r\n\r\n${body}`);
  const [statusLine, ...fields] = response.head.split('\r\n');
  const field = (name: string) => fields.find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
  return { status: Number(statusLine!.split(' ')[1]), contentType: field('content-type'), replayed: field('idempotent-replayed'), json: JSON.parse(response.body) };
}
