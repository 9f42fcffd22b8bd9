import { createPublicKey, createSecretKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { createManualClock } from '@herald/core';
import { generateKeyPair, importJWK, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { jwtAuthenticator } from '../src/index.js';
import { authFixture, type AuthFixture } from './authSupport.js';
import { fixture, rawRequest } from './support.js';
import { AUDIENCE, ISSUER, NOW_MS, NOW_S, bearer, claims, hs256, sign, signingKey, unsecured, type SigningKey } from './tokens.js';

const SECRET = 'a shared secret of at least 32 bytes!!';

let rsa: SigningKey;
let ec: SigningKey;
let ed: SigningKey;
let impostor: SigningKey;
let f: AuthFixture;

beforeAll(async () => {
  [rsa, ec, ed] = await Promise.all([signingKey('RS256', 'rsa-1'), signingKey('ES256', 'ec-1'), signingKey('EdDSA', 'ed-1')]);
  // another RSA key that claims to be rsa-1
  impostor = await signingKey('RS256', 'rsa-1');
  f = await authFixture({ keys: [rsa, ec, ed].map((k) => ({ kid: k.kid, alg: k.alg, key: k.publicJwk })) });
});
afterAll(() => f.close());

function get(url: string, headers: Record<string, string> = {}) {
  return f.gateway.fastify.inject({ method: 'GET', url, headers });
}

/** Asserts a 401/403 problem+json with this code. */
function expectProblem(res: LightMyRequestResponse, status: number, code: string, instance = '/me'): void {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.json()).toMatchObject({ status, code, type: `urn:herald:problem:${code}`, instance, title: expect.any(String), detail: expect.any(String) });
  if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
}

describe('JWT on the gateway: accepted tokens', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)('accepts a valid %s token and hands the principal to the route', async (alg) => {
    const key = { RS256: rsa, ES256: ec, EdDSA: ed }[alg];
    const res = await get('/me', bearer(await sign(key, claims({ roles: ['customer', 'vip'] }))));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ username: 'alice', roles: ['customer', 'vip'] });
  });

  it('accepts the "Bearer" scheme in any case, and a space-separated roles string', async () => {
    const res = await get('/me', { authorization: `bearer ${await sign(rsa, claims({ roles: 'customer vip' }))}` });
    expect(res.json()).toEqual({ username: 'alice', roles: ['customer', 'vip'] });
  });

  it('lets a route with authentication off through without a token, and its principal is undefined', async () => {
    const res = await get('/open');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ principal: null });
  });

  it('on an optional route, answers anonymous callers and still refuses a bad token', async () => {
    expect((await get('/maybe')).json()).toEqual({ username: null });
    expect((await get('/maybe', bearer(await sign(rsa)))).json()).toEqual({ username: 'alice' });
    expectProblem(await get('/maybe', bearer(await sign(impostor))), 401, 'token-signature-invalid', '/maybe');
  });

  it('keeps the probes open', async () => {
    expect((await get('/livez')).statusCode).toBe(200);
  });
});

describe('JWT on the gateway: each pitfall is a 401 problem+json with its own code', () => {
  it('no Authorization header', async () => {
    const res = await get('/me');
    expectProblem(res, 401, 'authentication-required');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it.each([
    ['another scheme', 'Basic YWxpY2U6c2VjcmV0'],
    ['no token', 'Bearer '],
    ['not three parts', 'Bearer abc.def'],
    ['not base64url', 'Bearer a+b.c/d.e=f'],
  ])('a malformed Authorization header (%s)', async (_, authorization) => {
    const res = await get('/me', { authorization });
    expectProblem(res, 401, 'authorization-malformed');
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('two Authorization headers, which Node would reduce to the first', async () => {
    const token = await sign(rsa, claims({ roles: ['customer'] }));
    const { url } = await f.gateway.listen({ port: 0, host: '127.0.0.1' });
    const ask = (lines: readonly string[]) => rawRequest(url, ['GET /me HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', ...lines, '', ''].join('\r\n'));
    const twice = await ask([`Authorization: Bearer ${token}`, 'authorization: Basic YWxpY2U6c2VjcmV0']);
    expect(twice.head).toMatch(/^HTTP\/1\.1 401/);
    expect(JSON.parse(twice.body)).toMatchObject({ code: 'authorization-malformed', detail: 'the Authorization header must appear once' });
    const once = await ask([`Authorization: Bearer ${token}`]);
    expect(once.head).toMatch(/^HTTP\/1\.1 200/);
  });

  it('a token whose header is not JSON', async () => {
    expectProblem(await get('/me', bearer('bm90IGpzb24.e30.c2ln')), 401, 'token-malformed');
  });

  it('alg: none', async () => {
    expectProblem(await get('/me', bearer(unsecured())), 401, 'token-algorithm-not-allowed');
  });

  it('algorithm confusion: an HS256 token HMAC-signed with the RSA public key', async () => {
    expectProblem(await get('/me', bearer(hs256(rsa.publicPem, claims(), rsa.kid))), 401, 'token-algorithm-not-allowed');
  });

  it('a wrong signature (another key claiming the same kid)', async () => {
    expectProblem(await get('/me', bearer(await sign(impostor))), 401, 'token-signature-invalid');
  });

  it('a tampered payload', async () => {
    const [header, , signature] = (await sign(rsa)).split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify(claims({ roles: ['admin'] }))).toString('base64url')}.${signature}`;
    expectProblem(await get('/admin', bearer(forged)), 401, 'token-signature-invalid', '/admin');
  });

  it('an unknown kid', async () => {
    expectProblem(await get('/me', bearer(await sign(rsa, claims(), 'rsa-unknown'))), 401, 'token-key-unknown');
  });

  it('a missing exp', async () => {
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ exp: undefined })))), 401, 'token-expiry-missing');
  });

  it('an expired exp', async () => {
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ iat: NOW_S - 600, exp: NOW_S - 1 })))), 401, 'token-expired');
  });

  it('an nbf in the future', async () => {
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ nbf: NOW_S + 60 })))), 401, 'token-not-yet-valid');
  });

  it('a wrong aud, and a missing one', async () => {
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ aud: 'billing' })))), 401, 'token-audience-invalid');
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ aud: undefined })))), 401, 'token-audience-invalid');
  });

  it('a wrong iss, and a missing one', async () => {
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ iss: 'https://evil.test' })))), 401, 'token-issuer-invalid');
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ iss: undefined })))), 401, 'token-issuer-invalid');
  });

  it('unusable claims: no username, roles that are not strings', async () => {
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ sub: undefined })))), 401, 'token-claims-invalid');
    expectProblem(await get('/me', bearer(await sign(rsa, claims({ roles: [1, 2] })))), 401, 'token-claims-invalid');
  });

  it('answers 401 before looking at the body (no 415/422 for an unauthenticated caller)', async () => {
    const res = await f.gateway.fastify.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'text/plain' }, payload: 'nope' });
    expectProblem(res, 401, 'authentication-required', '/orders');
    expect(f.runs.count).toBe(0);
  });
});

describe('JWT on the gateway: roles', () => {
  it('a role check that fails is a 403 problem+json', async () => {
    expectProblem(await get('/admin', bearer(await sign(rsa))), 403, 'forbidden', '/admin');
  });

  it('one of the route\'s roles is enough', async () => {
    const res = await get('/admin', bearer(await sign(ec, claims({ sub: 'olga', roles: ['ops'] }))));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ admin: 'olga' });
  });
});

describe('JWT on the gateway: HS256', () => {
  let hs: AuthFixture;
  beforeAll(async () => {
    hs = await authFixture({ hs256Secret: SECRET, keys: [{ kid: rsa.kid, alg: 'RS256', key: rsa.publicPem }] });
  });
  afterAll(() => hs.close());

  it('is accepted only when a secret is configured, and then with that secret only', async () => {
    const ok = await hs.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(hs256(SECRET)) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ username: 'alice' });
    // the confusion token still fails: HS256 verifies with the secret, never with the RSA key
    const confused = await hs.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(hs256(rsa.publicPem, claims(), rsa.kid)) });
    expect(confused.statusCode).toBe(401);
    expect(confused.json()).toMatchObject({ code: 'token-signature-invalid' });
    // and RS256 keys keep working beside it (configured as SPKI PEM here)
    expect((await hs.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(await sign(rsa)) })).statusCode).toBe(200);
  });
});

describe('route access options', () => {
  it('refuses, at registration, a route that needs authentication on a gateway without auth', async () => {
    const plain = fixture();
    try {
      expect(() => plain.gateway.query({ url: '/secret', roles: ['admin'], handle: async () => ({}) })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
      expect(() => plain.gateway.query({ url: '/secret', authentication: 'required', handle: async () => ({}) })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
      expect(() => f.gateway.query({ url: '/odd', authentication: 'optional', roles: ['admin'], handle: async () => ({}) })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    } finally {
      await plain.gateway.close();
      await plain.app.close();
    }
  });
});

describe('jwtAuthenticator options', () => {
  it.each([
    ['no key source', { issuer: ISSUER, audience: AUDIENCE }],
    ['a short HS256 secret', { issuer: ISSUER, audience: AUDIENCE, hs256Secret: 'short' }],
    ['no issuer', { audience: AUDIENCE, hs256Secret: SECRET }],
    ['no audience', { issuer: ISSUER, hs256Secret: SECRET }],
    ['HS256 among the algorithms', { issuer: ISSUER, audience: AUDIENCE, hs256Secret: SECRET, algorithms: ['HS256'] }],
    ['a private key as a configured key', { issuer: ISSUER, audience: AUDIENCE, keys: [{ alg: 'RS256', key: { kty: 'RSA', n: 'x', e: 'AQAB', d: 'y' } }] }],
    ['a JWKS url that is not a URL', { issuer: ISSUER, audience: AUDIENCE, jwks: { url: 'not a url' } }],
  ])('refuses %s with invalid-options', async (_, options) => {
    await expect(jwtAuthenticator(options as never)).rejects.toMatchObject({ code: 'invalid-options' });
  });

  it('takes a public KeyObject or CryptoKey of the type its alg verifies with', async () => {
    const asKeyObject = createPublicKey({ key: ec.publicJwk as JsonWebKey, format: 'jwk' });
    const cryptoKey = (await importJWK(ed.publicJwk, 'EdDSA')) as CryptoKey;
    const auth = await jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, clock: createManualClock(NOW_MS), keys: [{ kid: ec.kid, alg: 'ES256', key: asKeyObject }, { kid: ed.kid, alg: 'EdDSA', key: cryptoKey }] });
    for (const key of [ec, ed]) expect(await auth.authenticate(bearer(await sign(key)))).toMatchObject({ username: 'alice' });
  });

  // before the fix these were accepted, then every request failed: a 401 token-malformed for each
  // valid token (a key of another type), or a 500 (a private key)
  it.each([
    ['an RSA KeyObject for ES256', () => ({ alg: 'ES256', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey }), 'ES256 needs an EC key on P-256, got a key of type rsa'],
    ['a P-384 KeyObject for ES256', () => ({ alg: 'ES256', key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey }), 'got a key of type ec on secp384r1'],
    ['an Ed448 KeyObject for EdDSA', () => ({ alg: 'EdDSA', key: generateKeyPairSync('ed448').publicKey }), 'EdDSA needs an Ed25519 key'],
    ['a private EC KeyObject', () => ({ alg: 'ES256', key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }), 'must be a public key, got a private key'],
    ['a secret KeyObject', () => ({ alg: 'RS256', key: createSecretKey(Buffer.alloc(32, 7)) }), 'must be a public key, got a secret key'],
    ['a private CryptoKey', async () => ({ alg: 'ES256', key: (await generateKeyPair('ES256')).privateKey }), 'must be a public key, got a private key'],
    ['an Ed25519 CryptoKey for RS256', async () => ({ alg: 'RS256', key: (await generateKeyPair('EdDSA')).publicKey }), 'RS256 needs an RSA key'],
    ['an RSA key under 2048 bits', () => ({ alg: 'RS256', key: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) }), 'at least 2048 bits, got 1024'],
    ['something that is no key', () => ({ alg: 'ES256', key: { type: 'public' } }), 'must be a JWK, an SPKI PEM string, a KeyObject or a CryptoKey'],
  ])('refuses %s as a configured key, when it is built', async (_, key, why) => {
    const keys = [{ kid: 'k-0', alg: 'ES256', key: ec.publicJwk }, { kid: 'k-1', ...(await key()) }];
    const refused = (await jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, keys } as never).catch((error: unknown) => error)) as Error;
    expect(refused).toMatchObject({ code: 'invalid-options', message: expect.stringContaining(why) });
    expect(refused.message).toMatch(/^jwt: keys\[1\] is not a usable \w+ public key: /);
  });
});
