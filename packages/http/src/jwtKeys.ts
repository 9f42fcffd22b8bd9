import { KeyObject as NodeKeyObject } from 'node:crypto';
import { types } from 'node:util';
import { CoreErrors, HeraldError, isHeraldError } from '@herald/core';
import { createRemoteJWKSet, importJWK, importSPKI, type CryptoKey, type JWK, type JWTVerifyGetKey, type KeyObject } from 'jose';
import { HttpErrorCodes, HttpErrors } from './errors.js';
import { quoted } from './text.js';

/** The asymmetric algorithms the gateway verifies (EdDSA means Ed25519 keys). */
export type AsymmetricAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** One configured verification key. */
export interface JwtKey {
  /**
   * A token whose `kid` header is this gets this key. A key without one serves tokens without a kid
   * (when it is the only key of its algorithm), and tokens whose kid neither a configured key nor
   * the JWKS has (when it is the only kid-less key of its algorithm).
   */
  readonly kid?: string;
  readonly alg: AsymmetricAlgorithm;
  /**
   * A public key: a JWK object, an SPKI PEM string (`-----BEGIN PUBLIC KEY-----`), or a key object
   * (`KeyObject` or `CryptoKey`). Each is checked when the authenticator is built: a public key of
   * the type `alg` verifies with (RSA of at least 2048 bits, EC on P-256, Ed25519), else `invalid-options`.
   */
  readonly key: JWK | string | CryptoKey | KeyObject;
}

/** Where a JWKS is fetched from and how it is cached. */
export interface JwksSource {
  readonly url: string | URL;
  /** How long a fetched key set is used before it is fetched again. Default 600 000 (10 min). */
  readonly cacheMaxAgeMs?: number;
  /**
   * After a fetch, how long a token with an unknown `kid` is rejected without fetching again (so a
   * flood of forged kids cannot make the gateway hammer the issuer). Default 30 000.
   */
  readonly cooldownMs?: number;
  /** Fetch timeout. Default 5 000. */
  readonly timeoutMs?: number;
}

type Resolvable = CryptoKey | KeyObject | Uint8Array;
type Header = Parameters<JWTVerifyGetKey>[0];

/**
 * Builds the key lookup `jwtVerify` calls with a token's protected header: HS256 gets the
 * configured secret and nothing else (never a public key, so a token HMAC-signed with the public
 * key cannot verify). For other algorithms, a token naming a `kid` gets the configured key of that
 * algorithm and kid, else the JWKS key (jose caches the set and refetches it when the kid is
 * unknown), and only when neither has it the one configured key without a kid (its signature then
 * decides). A token without a `kid` gets the only configured key of its algorithm, else the JWKS key.
 */
export async function keyResolver(options: {
  readonly keys: readonly JwtKey[];
  readonly jwks: JwksSource | undefined;
  readonly hs256Secret: Uint8Array | undefined;
}): Promise<(header: Header, token: Parameters<JWTVerifyGetKey>[1]) => Promise<Resolvable>> {
  const configured = await Promise.all(options.keys.map(async (k, i) => ({ kid: k.kid, alg: k.alg, key: await importKey(k, i) })));
  const remote = options.jwks
    ? createRemoteJWKSet(new URL(options.jwks.url), {
        cacheMaxAge: options.jwks.cacheMaxAgeMs ?? 600_000,
        cooldownDuration: options.jwks.cooldownMs ?? 30_000,
        timeoutDuration: options.jwks.timeoutMs ?? 5_000,
      })
    : undefined;
  const secret = options.hs256Secret;
  return async function resolveKey(header, token) {
    if (header.alg === 'HS256') {
      if (secret) return secret;
      // unreachable while HS256 is only allowed with a secret; kept so a key can never stand in for one
      throw new HeraldError(HttpErrors.tokenAlgorithmNotAllowed, 'HS256 tokens are not accepted: no shared secret is configured');
    }
    const sameAlg = configured.filter((k) => k.alg === header.alg);
    const kidless = sameAlg.filter((k) => k.kid === undefined);
    if (header.kid === undefined) {
      if (sameAlg.length === 1) return sameAlg[0]!.key;
      if (remote) return fromJwks(remote, header, token);
      throw unknownKey(header, sameAlg.length > 1 ? ' (several match and the token names no kid)' : '');
    }
    // a key configured under the token's kid is the one it names; a kid-less key is only the last
    // resort, so it never shadows that key or the JWKS (it would fail their tokens' signatures)
    const named = sameAlg.find((k) => k.kid === header.kid);
    if (named) return named.key;
    const fallback = kidless.length === 1 ? kidless[0]!.key : undefined;
    if (remote) {
      try {
        return await fromJwks(remote, header, token);
      } catch (error) {
        // only "no such key": a JWKS that cannot be fetched stays a 503, the token may be one of its keys
        if (fallback && (error as { code?: unknown }).code === HttpErrorCodes.tokenKeyUnknown) return fallback;
        throw error;
      }
    }
    if (fallback) return fallback;
    throw unknownKey(header, kidless.length > 1 ? ' (several keys without a kid could be meant)' : '');
  };
}

function unknownKey(header: Header, why: string): HeraldError {
  return new HeraldError(HttpErrors.tokenKeyUnknown, `no configured ${header.alg} key${header.kid === undefined ? '' : ` with kid ${quoted(header.kid)}`}${why}`);
}

async function fromJwks(remote: ReturnType<typeof createRemoteJWKSet>, header: Header, token: Parameters<JWTVerifyGetKey>[1]): Promise<Resolvable> {
  try {
    return await remote(header, token);
  } catch (error) {
    if (isHeraldError(error)) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
      throw new HeraldError(HttpErrors.tokenKeyUnknown, `the JWKS has ${code === 'ERR_JWKS_NO_MATCHING_KEY' ? 'no' : 'more than one'} ${header.alg} key${header.kid === undefined ? '' : ` with kid ${quoted(header.kid)}`}`, { cause: error });
    }
    throw new HeraldError(HttpErrors.keysUnavailable, `the JWKS could not be fetched: ${(error as Error).message}`, { cause: error, retriable: true });
  }
}

async function importKey(k: JwtKey, index: number): Promise<Resolvable> {
  const where = `jwt: keys[${index}]`;
  if (k.alg !== 'RS256' && k.alg !== 'ES256' && k.alg !== 'EdDSA') {
    throw new HeraldError(CoreErrors.invalidOptions, `${where}.alg must be RS256, ES256 or EdDSA, got ${String(k.alg)}`);
  }
  try {
    const key = typeof k.key === 'string' ? await importSPKI(k.key, k.alg) : await importJWK(isJwk(k.key) ? publicJwk(k.key) : publicJwkOf(k.key, k.alg), k.alg);
    if (k.alg === 'RS256') checkModulus(key as CryptoKey);
    return key;
  } catch (error) {
    throw new HeraldError(CoreErrors.invalidOptions, `${where} is not a usable ${k.alg} public key: ${(error as Error).message}`, { cause: error });
  }
}

function publicJwk(jwk: JWK): JWK {
  if (jwk.kty === 'oct' || 'd' in jwk) throw new Error('a configured key must be a public key (no "d", not "oct")');
  return jwk;
}

/** The key type (and curve) each algorithm verifies with, as node:crypto names them. */
const KEY_TYPES: Readonly<Record<AsymmetricAlgorithm, { readonly type: string; readonly curve?: string; readonly wanted: string }>> = {
  RS256: { type: 'rsa', wanted: 'an RSA key' },
  ES256: { type: 'ec', curve: 'prime256v1', wanted: 'an EC key on P-256' },
  EdDSA: { type: 'ed25519', wanted: 'an Ed25519 key' },
};

/**
 * A key object's public JWK, once it is a public key of the type `alg` verifies with: jose would
 * only find out at each token (a 401 token-malformed for a key of another type, a 500 for a
 * private key), and the keys are validated when the authenticator is built.
 */
function publicJwkOf(key: CryptoKey | KeyObject, alg: AsymmetricAlgorithm): JWK {
  if (!types.isKeyObject(key) && !types.isCryptoKey(key)) throw new Error('the key must be a JWK, an SPKI PEM string, a KeyObject or a CryptoKey');
  const object = types.isKeyObject(key) ? key : NodeKeyObject.from(key);
  if (object.type !== 'public') throw new Error(`a configured key must be a public key, got a ${object.type} key`);
  const expected = KEY_TYPES[alg];
  const curve = object.asymmetricKeyDetails?.namedCurve;
  if (object.asymmetricKeyType !== expected.type || (expected.curve !== undefined && curve !== expected.curve)) {
    throw new Error(`${alg} needs ${expected.wanted}, got a key of type ${object.asymmetricKeyType}${curve ? ` on ${curve}` : ''}`);
  }
  return object.export({ format: 'jwk' }) as JWK;
}

/** RS256 keys shorter than 2048 bits are refused by jose at every token (RFC 7518 §3.3): here instead. */
function checkModulus(key: CryptoKey): void {
  const bits = (key.algorithm as { modulusLength?: number }).modulusLength ?? 0;
  if (bits < 2048) throw new Error(`RS256 needs an RSA key of at least 2048 bits, got ${bits}`);
}

function isJwk(key: JwtKey['key']): key is JWK {
  return typeof key === 'object' && key !== null && typeof (key as { kty?: unknown }).kty === 'string';
}
