import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFixture, type AuthFixture } from './authSupport.js';
import { bearer, claims, sign, signingKey, type SigningKey } from './tokens.js';

let rsa: SigningKey;
let f: AuthFixture;

beforeAll(async () => {
  rsa = await signingKey('RS256', 'rsa-1');
  f = await authFixture({ keys: [{ kid: rsa.kid, alg: rsa.alg, key: rsa.publicJwk }] });
});
afterAll(() => f.close());

/** A compact token with this protected header and a signature that no key needs to check: the header is refused first. */
function withHeader(header: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(claims())}.c2lnbmF0dXJl`;
}

async function refusal(token: string): Promise<{ status: number; code: string; detail: string; body: string }> {
  const res = await f.gateway.fastify.inject({ method: 'GET', url: '/me', headers: bearer(token) });
  const { code, detail } = res.json() as { code: string; detail: string };
  return { status: res.statusCode, code, detail, body: res.body };
}

describe('what a 401 quotes of the token header', () => {
  it('quotes at most 60 characters of an unknown kid', async () => {
    const kid = `k-${'x'.repeat(5_000)}`;
    const answer = await refusal(await sign(rsa, claims(), kid));
    expect(answer).toMatchObject({ status: 401, code: 'token-key-unknown' });
    expect(answer.detail).toContain(`"${kid.slice(0, 60)}…"`);
    expect(answer.body).not.toContain(kid.slice(0, 61));
  });

  it('quotes at most 60 characters of an algorithm it does not accept', async () => {
    const alg = `HS${'9'.repeat(5_000)}`;
    const answer = await refusal(withHeader({ alg, kid: rsa.kid }));
    expect(answer).toMatchObject({ status: 401, code: 'token-algorithm-not-allowed' });
    expect(answer.detail).toContain(`"${alg.slice(0, 60)}…"`);
    expect(answer.body).not.toContain(alg.slice(0, 61));
  });

  it('refuses a kid that is no string with a 401, quoting it as JSON', async () => {
    const answer = await refusal(withHeader({ alg: 'RS256', kid: { toString: 1, padding: 'y'.repeat(5_000) } }));
    expect(answer).toMatchObject({ status: 401, code: 'token-key-unknown' });
    expect(answer.detail).toContain('"{\\"toString\\":1,\\"padding\\":\\"yyy');
    expect(answer.body).not.toContain('y'.repeat(61));
  });
});
