import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '@herald/core';
import { PRINCIPAL_HEADERS, principalOf, scopedIdempotencyKey } from '../src/index.js';
import { authFixture, type AuthFixture } from './authSupport.js';
import { NOW_MS, bearer, claims, sign, signingKey, type SigningKey } from './tokens.js';

let key: SigningKey;
let f: AuthFixture;
let alice: string;
let bob: string;

beforeAll(async () => {
  key = await signingKey('ES256', 'ec-1');
  f = await authFixture({ keys: [{ kid: key.kid, alg: key.alg, key: key.publicJwk }] });
  alice = await sign(key, claims({ sub: 'alice', roles: ['customer', 'vip'] }));
  bob = await sign(key, claims({ sub: 'bob', roles: [] }));
});
afterAll(() => f.close());

function order(token: string, idempotencyKey: string) {
  return f.gateway.fastify.inject({
    method: 'POST',
    url: '/orders',
    headers: { ...bearer(token), 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    payload: { item: 'book', quantity: 1 },
  });
}

describe('the principal on the events a request publishes', () => {
  it('puts X-Username and X-Roles on the outbox record, over headers the route passed, keeping the others', async () => {
    const res = await order(alice, 'p-1');
    expect(res.statusCode).toBe(201);
    const { orderId, username } = res.json() as { orderId: string; username: string };
    expect(username).toBe('alice');
    const [record] = await f.stores.outbox.findByCorrelation(orderId);
    expect(record?.headers).toEqual({ 'X-Username': 'alice', 'X-Roles': 'customer,vip', note: 'kept' });
    const envelope = decodeEnvelope(record!.value, record!.headers);
    expect(principalOf(envelope)).toEqual({ username: 'alice', roles: ['customer', 'vip'] });
  });

  it('writes an empty X-Roles for a user without roles, which reads back as no roles', async () => {
    const { orderId } = (await order(bob, 'p-2')).json() as { orderId: string };
    const [record] = await f.stores.outbox.findByCorrelation(orderId);
    expect(record?.headers[PRINCIPAL_HEADERS.roles]).toBe('');
    expect(principalOf({ headers: record!.headers })).toEqual({ username: 'bob', roles: [] });
    expect(principalOf({ headers: {} })).toBeUndefined();
  });
});

describe('Idempotency-Key scoped to the principal', () => {
  it('treats the same key from two users as two requests, and replays each user their own answer', async () => {
    const before = f.runs.count;
    const a1 = await order(alice, 'shared-key');
    const b1 = await order(bob, 'shared-key');
    expect(a1.statusCode).toBe(201);
    expect(b1.statusCode).toBe(201);
    expect(b1.headers['idempotent-replayed']).toBeUndefined();
    expect(b1.json()).toMatchObject({ username: 'bob' });
    expect(b1.json().orderId).not.toBe(a1.json().orderId);
    expect(f.runs.count).toBe(before + 2);

    const a2 = await order(alice, 'shared-key');
    const b2 = await order(bob, 'shared-key');
    expect(a2.headers['idempotent-replayed']).toBe('true');
    expect(a2.body).toBe(a1.body);
    expect(b2.headers['idempotent-replayed']).toBe('true');
    expect(b2.body).toBe(b1.body);
    expect(f.runs.count).toBe(before + 2);
  });

  it('stores the key under the scoped name, which no client key can equal', async () => {
    const scoped = scopedIdempotencyKey('k', { username: 'alice', roles: [], claims: {} });
    expect(scoped).not.toBe('k');
    expect(scoped).not.toBe(scopedIdempotencyKey('k', { username: 'bob', roles: [], claims: {} }));
    expect(scoped).toContain('\u001f');
    await order(alice, 'k');
    const begun = await f.stores.idempotency.begin({ key: scoped, fingerprint: 'other', now: NOW_MS, ttlMs: 1000 });
    expect(begun).toEqual({ outcome: 'mismatch' });
  });

  it('names the key as the client sent it when refusing its reuse, not the scoped name it is stored under', async () => {
    await order(alice, 'reused-key');
    const other = await f.gateway.fastify.inject({
      method: 'POST',
      url: '/orders',
      headers: { ...bearer(alice), 'content-type': 'application/json', 'idempotency-key': 'reused-key' },
      payload: { item: 'pen', quantity: 2 },
    });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'idempotency-key-reused', detail: 'Idempotency-Key "reused-key" was already used for a different request' });
  });
});
