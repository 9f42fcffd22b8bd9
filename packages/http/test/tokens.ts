import { createHmac } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const ISSUER = 'https://auth.test';
export const AUDIENCE = 'orders';
/** The manual clock's time in the JWT tests (seconds for claims). */
export const NOW_MS = Date.UTC(2026, 0, 1);
export const NOW_S = NOW_MS / 1000;

/** A signing key pair with its public JWK (kid and alg set) and SPKI PEM. */
export interface SigningKey {
  readonly alg: 'RS256' | 'ES256' | 'EdDSA';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly publicPem: string;
}

export async function signingKey(alg: SigningKey['alg'], kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

/** Valid claims for user `alice`; override or drop (`undefined`) any of them. */
export function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = { sub: 'alice', roles: ['customer'], iss: ISSUER, aud: AUDIENCE, iat: NOW_S, exp: NOW_S + 300 };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base as JWTPayload;
}

/** A token signed with `key` (its kid in the header unless `kid` overrides it). */
export function sign(key: SigningKey, payload: JWTPayload = claims(), kid: string = key.kid): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid, typ: 'JWT' }).sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsecured token (`alg: none`, empty signature). */
export function unsecured(payload: JWTPayload = claims()): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

/** An HS256 token whose HMAC key is `secret` (e.g. an RSA public key's PEM: algorithm confusion). */
export function hs256(secret: string, payload: JWTPayload = claims(), kid?: string): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
