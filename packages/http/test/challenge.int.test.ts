import { createApp, createManualClock, HeraldError, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, jwtAuthenticator, type Authenticator, type Gateway } from '../src/index.js';
import { AUDIENCE, ISSUER, NOW_MS, bearer, claims, sign, signingKey } from './tokens.js';

const Login = Type.Object({ username: Type.String(), password: Type.String() });

/**
 * A gateway whose POST /auth/login (open) refuses a wrong password with the application's own
 * `invalid-credentials`, mapped to 401, and whose GET /me needs a token when `auth` is given.
 */
function loginGateway(auth: Authenticator | undefined): Gateway<MemoryTx> {
  const clock = createManualClock(NOW_MS);
  const app = createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores({ clock }), clock, logger: silentLogger });
  const gateway = createGateway<MemoryTx>({
    app,
    ...(auth ? { auth } : {}),
    problems: { errorKinds: { 'invalid-credentials': 'unauthorized' } },
    shutdown: { onClosed: () => app.close() },
  });
  gateway.command({
    method: 'POST',
    url: '/auth/login',
    body: Login,
    idempotency: 'off',
    ...(auth ? { authentication: 'off' as const } : {}),
    handle: async ({ body }) => {
      if (body.password !== 'secret') throw new HeraldError('invalid-credentials', 'unknown user or wrong password');
      return { token: 'issued' };
    },
  });
  if (auth) gateway.query({ url: '/me', handle: async ({ principal }) => ({ username: principal?.username }) });
  return gateway;
}

function login(gateway: Gateway<MemoryTx>, headers: Record<string, string> = {}) {
  return gateway.fastify.inject({ method: 'POST', url: '/auth/login', headers, payload: { username: 'alice', password: 'wrong' } });
}

describe('the WWW-Authenticate challenge of a 401 (RFC 6750 §3)', () => {
  let gateway: Gateway<MemoryTx>;
  afterEach(() => gateway.close({ deadlineMs: 1_000 }));

  it('is a bare Bearer challenge on a wrong password: no token was sent, so none is called invalid', async () => {
    const key = await signingKey('ES256', 'ec-1');
    gateway = loginGateway(await jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, clock: createManualClock(NOW_MS), keys: [{ kid: key.kid, alg: key.alg, key: key.publicJwk }] }));
    const wrong = await login(gateway);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'invalid-credentials', status: 401 });
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    // and with a valid token on the request: the password is wrong, not the token
    expect((await login(gateway, bearer(await sign(key, claims())))).headers['www-authenticate']).toBe('Bearer');
    // the gateway's own refusals keep theirs: no token at all, and a token it refuses
    expect((await gateway.fastify.inject({ method: 'GET', url: '/me' })).headers['www-authenticate']).toBe('Bearer');
    const expired = await gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(await sign(key, claims({ exp: NOW_MS / 1000 - 60 }))) });
    expect({ code: expired.json<{ code: string }>().code, challenge: expired.headers['www-authenticate'] }).toEqual({ code: 'token-expired', challenge: 'Bearer error="invalid_token"' });
  });

  it('is a bare Bearer challenge on a gateway without auth, which still owes one on every 401 (RFC 9110 §15.5.2)', async () => {
    gateway = loginGateway(undefined);
    const wrong = await login(gateway);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
  });
});
