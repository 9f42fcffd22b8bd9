import type { IncomingHttpHeaders } from 'node:http';
import { CoreErrors, HeraldError, isHeraldError, systemClock, type Clock, type ErrorCodeSpec } from '@herald/core';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { keyResolver, type AsymmetricAlgorithm, type JwksSource, type JwtKey } from './jwtKeys.js';
import type { Principal } from './principal.js';
import { HttpErrors } from './errors.js';
import { quoted } from './text.js';

/** Checks a request's credentials; what the gateway's `auth` option takes. */
export interface Authenticator {
  /**
   * Returns the caller, or throws a Herald error whose code maps to 401 (bad or missing
   * credentials) or 503 (keys cannot be fetched).
   */
  authenticate(headers: IncomingHttpHeaders): Promise<Principal>;
}

/** Options of {@link jwtAuthenticator}. At least one of `jwks`, `keys` and `hs256Secret` is required. */
export interface JwtOptions {
  /** A JWKS endpoint; fetched on first use, cached, and fetched again when a token names an unknown `kid`. */
  readonly jwks?: JwksSource;
  /** Public keys configured in place. */
  readonly keys?: readonly JwtKey[];
  /** The shared secret that makes HS256 acceptable (at least 32 bytes). Without it HS256 tokens are refused. */
  readonly hs256Secret?: string | Uint8Array;
  /**
   * Accepted `iss` values. Required: a token of any issuer is never accepted. With more than one,
   * the username is issuer-qualified, `<iss>#<username>` (each issuer names its own users, and
   * `alice` of one is not `alice` of another), so no issuer may then contain a `#`. With one, it
   * is the bare claim. Going from one issuer to several changes every username, so the
   * Idempotency-Keys stored under the old ones no longer match (see the README).
   */
  readonly issuer: string | readonly string[];
  /** Accepted `aud` values (the token must name one). Required. */
  readonly audience: string | readonly string[];
  /** Asymmetric algorithms accepted. Default RS256, ES256 and EdDSA. */
  readonly algorithms?: readonly AsymmetricAlgorithm[];
  /** Allowed clock skew for `exp` and `nbf` (and `iat` with `maxTokenAgeMs`). Default 0. */
  readonly clockToleranceMs?: number;
  /**
   * The `typ` header every token must carry, e.g. `at+jwt` for OAuth access tokens (RFC 9068): an
   * ID token or another JWT the same issuer signs for the same audience is then refused (RFC 8725
   * §3.11, explicit typing). Compared as jose compares it: case-insensitive, `application/`
   * optional. Default: any `typ`, or none.
   */
  readonly tokenType?: string;
  /**
   * Tokens issued (`iat`) longer ago than this are refused whatever their `exp` says
   * (`token-expired`), and must carry `iat`: a bound on how long a leaked long-lived token works.
   * Whole seconds, as `iat` is. Default: no bound but `exp`.
   */
  readonly maxTokenAgeMs?: number;
  /** The claim holding the username (issuer-qualified with several issuers, see `issuer`). Default `sub`. */
  readonly usernameClaim?: string;
  /** The claim holding the roles: an array of strings, or one space-separated string. Default `roles`. */
  readonly rolesClaim?: string;
  /** Time source for `exp`/`nbf`. Default the system clock. */
  readonly clock?: Clock;
}

const DEFAULT_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

/**
 * An {@link Authenticator} for `Authorization: Bearer <JWT>` on jose. Only signed tokens of the
 * accepted algorithms verify: `alg: none` never, HS256 only with `hs256Secret` (and then only
 * with that secret, never a public key: the algorithm-confusion attack fails). Every token must
 * carry `exp` (not past), may carry `nbf` (not future), and must name an accepted `iss` and
 * `aud`. Each failure throws its own code (see the package's error catalogue), so a 401 says why.
 * Keys are imported and validated once, here; bad options throw `invalid-options`.
 *
 * @example
 * const auth = await jwtAuthenticator({ jwks: { url: 'https://auth.example/.well-known/jwks.json' },
 *   issuer: 'https://auth.example', audience: 'orders' });
 * const gateway = createGateway({ app, auth });
 */
export async function jwtAuthenticator(options: JwtOptions): Promise<Authenticator> {
  const settings = validate(options);
  const resolveKey = await keyResolver(settings);
  const algorithms: string[] = [...settings.algorithms, ...(settings.hs256Secret ? ['HS256'] : [])];
  return {
    async authenticate(headers) {
      const token = bearerToken(headers.authorization);
      const alg = headerAlgorithm(token);
      if (!algorithms.includes(alg)) {
        throw new HeraldError(HttpErrors.tokenAlgorithmNotAllowed, `tokens signed with ${quoted(alg)} are not accepted (accepted: ${algorithms.join(', ')})`);
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, resolveKey, {
          algorithms,
          issuer: settings.issuer,
          audience: settings.audience,
          requiredClaims: ['exp'],
          clockTolerance: settings.clockToleranceMs / 1000,
          ...(settings.tokenType === undefined ? {} : { typ: settings.tokenType }),
          ...(settings.maxTokenAgeMs === undefined ? {} : { maxTokenAge: settings.maxTokenAgeMs / 1000 }),
          currentDate: new Date(settings.clock.now()),
        }));
      } catch (error) {
        throw asAuthError(error);
      }
      return principalFrom(payload, settings);
    },
  };
}

interface Settings {
  readonly keys: readonly JwtKey[];
  readonly jwks: JwksSource | undefined;
  readonly hs256Secret: Uint8Array | undefined;
  readonly issuer: string[];
  /** Whether usernames are issuer-qualified: more than one distinct issuer is trusted. */
  readonly qualified: boolean;
  readonly audience: string[];
  readonly algorithms: readonly AsymmetricAlgorithm[];
  readonly clockToleranceMs: number;
  readonly tokenType: string | undefined;
  readonly maxTokenAgeMs: number | undefined;
  readonly usernameClaim: string;
  readonly rolesClaim: string;
  readonly clock: Clock;
}

function validate(options: JwtOptions): Settings {
  const invalid = (why: string) => new HeraldError(CoreErrors.invalidOptions, `jwt: ${why}`);
  if (!options) throw invalid('options are required');
  const secret = typeof options.hs256Secret === 'string' ? new TextEncoder().encode(options.hs256Secret) : options.hs256Secret;
  if (secret !== undefined && !(secret instanceof Uint8Array && secret.byteLength >= 32)) throw invalid('hs256Secret must be at least 32 bytes (RFC 7518 §3.2)');
  if (!options.jwks && !(options.keys?.length) && !secret) throw invalid('configure at least one of jwks, keys and hs256Secret');
  const list = (value: string | readonly string[] | undefined, name: string) => {
    const values = typeof value === 'string' ? [value] : [...(value ?? [])];
    if (values.length === 0 || values.some((v) => typeof v !== 'string' || v.length === 0)) throw invalid(`${name} must be a non-empty string or list of them`);
    return values;
  };
  const issuer = list(options.issuer, 'issuer');
  const qualified = new Set(issuer).size > 1;
  const hashed = qualified ? issuer.find((i) => i.includes('#')) : undefined;
  if (hashed !== undefined) throw invalid(`issuer: with several issuers the username is "<issuer>#<username>", so an issuer must not contain "#", got ${JSON.stringify(hashed)}`);
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  for (const alg of algorithms) if (!DEFAULT_ALGORITHMS.includes(alg)) throw invalid(`algorithms: "${String(alg)}" is not one of ${DEFAULT_ALGORITHMS.join(', ')} (HS256 comes with hs256Secret)`);
  const clockToleranceMs = options.clockToleranceMs ?? 0;
  if (!(Number.isFinite(clockToleranceMs) && clockToleranceMs >= 0)) throw invalid(`clockToleranceMs must be >= 0, got ${clockToleranceMs}`);
  const { tokenType, maxTokenAgeMs } = options;
  if (tokenType !== undefined && !(typeof tokenType === 'string' && /^[\x21-\x7e]+$/.test(tokenType))) throw invalid(`tokenType must be a media type like "at+jwt", got ${JSON.stringify(tokenType)}`);
  if (maxTokenAgeMs !== undefined && !(Number.isInteger(maxTokenAgeMs) && maxTokenAgeMs >= 1000 && maxTokenAgeMs % 1000 === 0)) {
    throw invalid(`maxTokenAgeMs must be a whole number of seconds in milliseconds (iat has a resolution of one second), got ${maxTokenAgeMs}`);
  }
  if (options.jwks) {
    try {
      new URL(options.jwks.url);
    } catch {
      throw invalid(`jwks.url "${String(options.jwks.url)}" is not a URL`);
    }
  }
  return {
    keys: options.keys ?? [],
    jwks: options.jwks,
    hs256Secret: secret,
    issuer,
    qualified,
    audience: list(options.audience, 'audience'),
    algorithms,
    clockToleranceMs,
    tokenType,
    maxTokenAgeMs,
    usernameClaim: options.usernameClaim ?? 'sub',
    rolesClaim: options.rolesClaim ?? 'roles',
    clock: options.clock ?? systemClock,
  };
}

function bearerToken(header: string | string[] | undefined): string {
  if (header === undefined) throw new HeraldError(HttpErrors.authenticationRequired, 'this route needs an Authorization: Bearer token');
  const match = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
  if (!match) throw new HeraldError(HttpErrors.authorizationMalformed, 'the Authorization header must be one "Bearer <JWT>"');
  return match[1]!;
}

function headerAlgorithm(token: string): string {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch (error) {
    throw new HeraldError(HttpErrors.tokenMalformed, `the token header cannot be decoded: ${(error as Error).message}`, { cause: error });
  }
  if (typeof alg !== 'string') throw new HeraldError(HttpErrors.tokenMalformed, 'the token header has no "alg"');
  return alg;
}

/** jose's failures, by error code and (for claims) by claim, as the catalogue's codes. */
function asAuthError(error: unknown): HeraldError {
  if (isHeraldError(error)) return error;
  const { code, claim, reason, message } = error as { code?: string; claim?: string; reason?: string; message?: string };
  const fail = (spec: ErrorCodeSpec, why: string) => new HeraldError(spec, why, { cause: error });
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      if (claim === 'iat') return fail(HttpErrors.tokenExpired, 'the token was issued longer ago than this service accepts ("iat", maxTokenAgeMs)');
      return fail(HttpErrors.tokenExpired, 'the token has expired');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return fail(HttpErrors.tokenAlgorithmNotAllowed, `the token's algorithm is not accepted`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return fail(HttpErrors.tokenSignatureInvalid, 'the token signature does not verify');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'exp' && reason === 'missing') return fail(HttpErrors.tokenExpiryMissing, 'the token has no "exp" claim');
      if (claim === 'nbf' && reason === 'check_failed') return fail(HttpErrors.tokenNotYetValid, 'the token is not valid yet ("nbf" is in the future)');
      if (claim === 'iat' && reason === 'check_failed') return fail(HttpErrors.tokenNotYetValid, 'the token is not valid yet ("iat" is in the future)');
      if (claim === 'iat' && reason === 'missing') return fail(HttpErrors.tokenClaimsInvalid, 'the token has no "iat" claim, which this service needs to bound its age (maxTokenAgeMs)');
      if (claim === 'typ') return fail(HttpErrors.tokenTypeInvalid, 'the token\'s "typ" header is not the type this service accepts');
      if (claim === 'aud') return fail(HttpErrors.tokenAudienceInvalid, `the token's audience is not accepted (${message})`);
      if (claim === 'iss') return fail(HttpErrors.tokenIssuerInvalid, `the token's issuer is not trusted (${message})`);
      return fail(HttpErrors.tokenClaimsInvalid, `the token's claims are invalid: ${message}`);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return fail(HttpErrors.tokenMalformed, `the token is malformed: ${message}`);
    default:
      return fail(HttpErrors.internal, `token verification failed unexpectedly: ${message ?? String(error)}`);
  }
}

function principalFrom(payload: JWTPayload, settings: Settings): Principal {
  const username = payload[settings.usernameClaim];
  if (typeof username !== 'string' || username.length === 0) {
    throw new HeraldError(HttpErrors.tokenClaimsInvalid, `the token's "${settings.usernameClaim}" claim (the username) must be a non-empty string`);
  }
  const raw = payload[settings.rolesClaim];
  const roles = raw === undefined ? [] : typeof raw === 'string' ? raw.split(' ').filter(Boolean) : raw;
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || r.length === 0 || r.includes(','))) {
    throw new HeraldError(HttpErrors.tokenClaimsInvalid, `the token's "${settings.rolesClaim}" claim must be an array of non-empty strings without commas`);
  }
  // jose checked that `iss` is one of the configured issuers
  return { username: settings.qualified ? `${String(payload.iss)}#${username}` : username, roles: roles as string[], claims: payload };
}
