import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '@herald/core';
import { jwtAuthenticator, principalOf } from '../src/index.js';
import { authFixture, type AuthFixture } from './authSupport.js';
import { AUDIENCE, NOW_MS, bearer, claims, sign, signingKey, type SigningKey } from './tokens.js';

const A = 'https://a.auth.test';
const B = 'https://b.auth.test';

let keyA: SigningKey;
let keyB: SigningKey;
let f: AuthFixture;

beforeAll(async () => {
  [keyA, keyB] = await Promise.all([signingKey('ES256', 'a-1'), signingKey('ES256', 'b-1')]);
  f = await authFixture({ issuer: [A, B], keys: [keyA, keyB].map((k) => ({ kid: k.kid, alg: k.alg, key: k.publicJwk })) });
});
afterAll(() => f.close());

const aliceOf = (key: SigningKey, iss: string) => sign(key, claims({ sub: 'alice', iss }));

function order(token: string, idempotencyKey: string) {
  return f.gateway.fastify.inject({
    method: 'POST',
    url: '/orders',
    headers: { ...bearer(token), 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    payload: { item: 'book', quantity: 1 },
  });
}

describe('a gateway trusting several issuers', () => {
  it('tells the same username from two issuers apart: the identity is "<issuer>#<username>"', async () => {
    const fromA = await f.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(await aliceOf(keyA, A)) });
    const fromB = await f.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(await aliceOf(keyB, B)) });
    expect([fromA.json().username, fromB.json().username]).toEqual([`${A}#alice`, `${B}#alice`]);
  });

  it("never replays one issuer's user the answer stored for the other's, and says which on the events", async () => {
    const before = f.runs.count;
    const first = await order(await aliceOf(keyA, A), 'same-key');
    const second = await order(await aliceOf(keyB, B), 'same-key');
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(f.runs.count).toBe(before + 2);
    const usernames = [];
    for (const res of [first, second]) {
      const [record] = await f.stores.outbox.findByCorrelation((res.json() as { orderId: string }).orderId);
      usernames.push(principalOf({ headers: record!.headers })?.username);
    }
    expect(usernames).toEqual([`${A}#alice`, `${B}#alice`]);
    // each still gets their own replay
    expect((await order(await aliceOf(keyA, A), 'same-key')).body).toBe(first.body);
  });

  it('keeps the bare username with one issuer, also when it is listed twice', async () => {
    const one = await authFixture({ issuer: [A, A], keys: [{ kid: keyA.kid, alg: keyA.alg, key: keyA.publicJwk }] });
    try {
      const res = await one.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(await aliceOf(keyA, A)) });
      expect(res.json()).toMatchObject({ username: 'alice' });
    } finally {
      await one.close();
    }
  });

  it('refuses, among several issuers, one with a "#", which would make two identities read alike', async () => {
    await expect(
      jwtAuthenticator({ issuer: [A, 'tenant#1'], audience: AUDIENCE, clock: createManualClock(NOW_MS), keys: [{ kid: keyA.kid, alg: keyA.alg, key: keyA.publicJwk }] }),
    ).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining('"tenant#1"') });
  });
});
