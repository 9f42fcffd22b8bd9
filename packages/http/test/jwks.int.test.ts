import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFixture, type AuthFixture } from './authSupport.js';
import { bearer, claims, sign, signingKey, type SigningKey } from './tokens.js';

/** A JWKS endpoint on 127.0.0.1 whose keys a test can rotate, counting the fetches. */
interface JwksServer {
  readonly url: string;
  keys: JWK[];
  /** When set, the endpoint answers this status instead of the keys. */
  failWith: number | undefined;
  fetches: number;
  close(): Promise<void>;
}

async function jwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, failWith: undefined as number | undefined, fetches: 0 };
  const server: Server = createServer((request, response) => {
    state.fetches++;
    if (state.failWith !== undefined || request.url !== '/.well-known/jwks.json') {
      response.writeHead(state.failWith ?? 404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  });
}

let first: SigningKey;
let second: SigningKey;
let stranger: SigningKey;
let jwks: JwksServer;

beforeAll(async () => {
  [first, second, stranger] = await Promise.all([signingKey('RS256', 'key-2026-01'), signingKey('EdDSA', 'key-2026-02'), signingKey('RS256', 'key-nobody')]);
  jwks = await jwksServer([first.publicJwk]);
});
afterAll(() => jwks.close());

describe('keys from a JWKS URL', () => {
  let f: AuthFixture;
  beforeAll(async () => {
    f = await authFixture({ jwks: { url: jwks.url, cooldownMs: 0 } });
  });
  afterAll(() => f.close());
  const me = (token: string) => f.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(token) });

  it('fetches the key set once and caches it', async () => {
    const before = jwks.fetches;
    expect((await me(await sign(first))).statusCode).toBe(200);
    expect((await me(await sign(first))).statusCode).toBe(200);
    expect(jwks.fetches).toBe(before + 1);
  });

  it('refetches on an unknown kid, so a rotated key is accepted at once', async () => {
    jwks.keys = [second.publicJwk];
    const before = jwks.fetches;
    const res = await me(await sign(second));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ username: 'alice' });
    expect(jwks.fetches).toBe(before + 1);
    // and the retired key is gone with the old set
    const retired = await me(await sign(first));
    expect(retired.statusCode).toBe(401);
    expect(retired.json()).toMatchObject({ code: 'token-key-unknown', status: 401 });
  });

  it('rejects a kid the refreshed set does not have either with token-key-unknown', async () => {
    const res = await me(await sign(stranger));
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'token-key-unknown', type: 'urn:herald:problem:token-key-unknown' });
  });

  it('answers 503 keys-unavailable (retriable) when the JWKS cannot be fetched', async () => {
    jwks.failWith = 500;
    try {
      const res = await me(await sign(stranger));
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toMatchObject({ code: 'keys-unavailable', status: 503 });
    } finally {
      jwks.failWith = undefined;
    }
  });
});

describe('the JWKS refetch cooldown', () => {
  it('does not refetch for unknown kids within cooldownMs of the last fetch', async () => {
    jwks.keys = [first.publicJwk];
    const f = await authFixture({ jwks: { url: jwks.url, cooldownMs: 600_000 } });
    try {
      const me = (token: string) => f.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(token) });
      expect((await me(await sign(first))).statusCode).toBe(200);
      const before = jwks.fetches;
      for (let i = 0; i < 3; i++) {
        const res = await me(await sign(stranger));
        expect(res.json()).toMatchObject({ code: 'token-key-unknown' });
      }
      expect(jwks.fetches).toBe(before);
    } finally {
      await f.close();
    }
  });
});

describe('configured keys without a kid', () => {
  let es: { kidless: SigningKey; named: SigningKey; remote: SigningKey; other: SigningKey };
  let server: JwksServer;
  beforeAll(async () => {
    const [kidless, named, remote, other] = await Promise.all([signingKey('ES256', 'c'), signingKey('ES256', 'a'), signingKey('ES256', 'b'), signingKey('ES256', 'z')]);
    es = { kidless, named, remote, other };
    server = await jwksServer([remote.publicJwk]);
  });
  afterAll(() => server.close());
  const me = (f: AuthFixture, token: string) => f.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(token) });

  it('do not shadow the JWKS: a JWKS-signed token is accepted, and a kid the JWKS lacks falls back to the kid-less key', async () => {
    const f = await authFixture({ keys: [{ alg: 'ES256', key: es.kidless.publicPem }], jwks: { url: server.url, cooldownMs: 0 } });
    try {
      expect((await me(f, await sign(es.remote))).statusCode).toBe(200);
      // kid 'c' is in neither place: the kid-less key is tried, and its signature decides
      expect((await me(f, await sign(es.kidless))).statusCode).toBe(200);
      expect((await me(f, await sign(es.kidless, undefined, 'anything'))).statusCode).toBe(200);
      expect((await me(f, await sign(es.other))).json()).toMatchObject({ code: 'token-signature-invalid' });
    } finally {
      await f.close();
    }
  });

  it('do not shadow a configured key named by the kid, whichever comes first', async () => {
    const f = await authFixture({
      keys: [
        { alg: 'ES256', key: es.kidless.publicPem },
        { kid: 'a', alg: 'ES256', key: es.named.publicJwk },
      ],
    });
    try {
      expect((await me(f, await sign(es.named))).statusCode).toBe(200);
      expect((await me(f, await sign(es.kidless))).statusCode).toBe(200);
      // a token claiming kid 'a' is checked against that key only, not the kid-less one
      expect((await me(f, await sign(es.kidless, undefined, 'a'))).json()).toMatchObject({ code: 'token-signature-invalid' });
      // with two keys of its algorithm, a token naming no kid cannot say which it means
      const noKid = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(es.kidless.privateKey);
      expect((await me(f, noKid)).json()).toMatchObject({ code: 'token-key-unknown' });
    } finally {
      await f.close();
    }
  });

  it('serve a token without a kid when it is the only key of its algorithm', async () => {
    const f = await authFixture({ keys: [{ alg: 'ES256', key: es.kidless.publicPem }] });
    try {
      const noKid = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(es.kidless.privateKey);
      expect((await me(f, noKid)).statusCode).toBe(200);
    } finally {
      await f.close();
    }
  });
});
