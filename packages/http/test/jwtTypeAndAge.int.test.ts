import { SignJWT, type JWTPayload } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jwtAuthenticator } from '../src/index.js';
import { authFixture, type AuthFixture } from './authSupport.js';
import { AUDIENCE, ISSUER, NOW_S, bearer, claims, signingKey, type SigningKey } from './tokens.js';

let rsa: SigningKey;
let f: AuthFixture | undefined;

beforeAll(async () => {
  rsa = await signingKey('RS256', 'rsa-1');
});
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/** A token with this `typ` header (none when undefined). */
function typed(typ: string | undefined, payload: JWTPayload = claims()): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: rsa.alg, kid: rsa.kid, ...(typ === undefined ? {} : { typ }) }).sign(rsa.privateKey);
}

async function me(token: string) {
  const res = await f!.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(token) });
  return { status: res.statusCode, code: (res.json() as { code?: string }).code, challenge: res.headers['www-authenticate'] };
}

const keys = () => [{ kid: rsa.kid, alg: rsa.alg, key: rsa.publicJwk }];

describe('tokenType: explicit typing (RFC 8725 §3.11)', () => {
  it('accepts only tokens of that typ, compared without case or the application/ prefix', async () => {
    f = await authFixture({ keys: keys(), tokenType: 'at+jwt' });
    expect(await me(await typed('at+jwt'))).toMatchObject({ status: 200 });
    expect(await me(await typed('application/AT+JWT'))).toMatchObject({ status: 200 });
    // an ID token of the same issuer and audience is not an access token
    expect(await me(await typed('JWT'))).toEqual({ status: 401, code: 'token-type-invalid', challenge: 'Bearer error="invalid_token"' });
    expect(await me(await typed(undefined))).toMatchObject({ status: 401, code: 'token-type-invalid' });
  });

  it('is not checked without the option: any typ, or none', async () => {
    f = await authFixture({ keys: keys() });
    expect(await me(await typed('JWT'))).toMatchObject({ status: 200 });
    expect(await me(await typed(undefined))).toMatchObject({ status: 200 });
  });
});

describe('maxTokenAgeMs: a bound on how long ago a token was issued', () => {
  it('refuses a token issued longer ago, whatever its exp, and one without iat', async () => {
    f = await authFixture({ keys: keys(), maxTokenAgeMs: 3_600_000 });
    expect(await me(await typed('JWT', claims({ iat: NOW_S - 3_600, exp: NOW_S + 86_400 })))).toMatchObject({ status: 200 });
    expect(await me(await typed('JWT', claims({ iat: NOW_S - 3_601, exp: NOW_S + 86_400 })))).toEqual({
      status: 401,
      code: 'token-expired',
      challenge: 'Bearer error="invalid_token"',
    });
    expect(await me(await typed('JWT', claims({ iat: undefined })))).toMatchObject({ status: 401, code: 'token-claims-invalid' });
    // issued in the future: a clock ahead, or a forged iat
    expect(await me(await typed('JWT', claims({ iat: NOW_S + 60 })))).toMatchObject({ status: 401, code: 'token-not-yet-valid' });
  });

  it('allows the clock tolerance on iat as on exp and nbf', async () => {
    f = await authFixture({ keys: keys(), maxTokenAgeMs: 60_000, clockToleranceMs: 30_000 });
    expect(await me(await typed('JWT', claims({ iat: NOW_S - 89 })))).toMatchObject({ status: 200 });
    expect(await me(await typed('JWT', claims({ iat: NOW_S - 91 })))).toMatchObject({ status: 401, code: 'token-expired' });
    expect(await me(await typed('JWT', claims({ iat: NOW_S + 29 })))).toMatchObject({ status: 200 });
  });
});

describe('the options, checked when the authenticator is made', () => {
  it.each([
    [{ tokenType: '' }, 'tokenType must be a media type'],
    [{ tokenType: 'at jwt' }, 'tokenType must be a media type'],
    [{ maxTokenAgeMs: 1_500 }, 'maxTokenAgeMs must be a whole number of seconds'],
    [{ maxTokenAgeMs: 0 }, 'maxTokenAgeMs must be a whole number of seconds'],
    [{ maxTokenAgeMs: Number.NaN }, 'maxTokenAgeMs must be a whole number of seconds'],
  ])('%j is invalid-options', async (options, message) => {
    await expect(jwtAuthenticator({ keys: keys(), issuer: ISSUER, audience: AUDIENCE, ...options })).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining(message) });
  });
});
