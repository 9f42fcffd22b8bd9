import { CoreErrors, HeraldError } from '@herald/core';
import type { FastifyRequest } from 'fastify';
import type { Authenticator } from './jwt.js';
import type { Principal } from './principal.js';
import { HttpErrorCodes, HttpErrors } from './errors.js';
import { headerLines } from './rawHeaders.js';

/**
 * Whether a route needs an authenticated caller: `required` (401 without valid credentials),
 * `optional` (credentials, when sent, must be valid), or `off` (not looked at).
 */
export type AuthenticationMode = 'required' | 'optional' | 'off';

/** Who may call a route. */
export interface RouteAccess {
  /** Default `required` when the gateway has an `auth`, else `off`. */
  readonly authentication?: AuthenticationMode;
  /** The caller must hold at least one of these roles (else 403). Implies `required`. */
  readonly roles?: readonly string[];
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** The authenticated caller of `request`, once its route's access hook ran. */
export function principalOfRequest(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

/**
 * The `onRequest` hook that enforces a route's access, or undefined when the route is open. It
 * runs before the body is read, so an unauthenticated caller's body is never parsed. A route that
 * asks for authentication on a gateway without `auth` is refused at registration (`invalid-options`),
 * so a misconfiguration never leaves a route open.
 */
export function accessHook(
  auth: Authenticator | undefined,
  route: RouteAccess & { readonly method: string; readonly url: string },
): ((request: FastifyRequest) => Promise<void>) | undefined {
  const where = `${route.method} ${route.url}`;
  const roles = route.roles ?? [];
  const mode = route.authentication ?? (auth ? 'required' : 'off');
  if (!['required', 'optional', 'off'].includes(mode)) throw invalid(`${where}: authentication must be required, optional or off, got ${String(mode)}`);
  if (roles.length > 0 && mode !== 'required') throw invalid(`${where}: roles need authentication 'required'`);
  if (mode === 'off') return undefined;
  if (!auth) throw invalid(`${where} needs authentication but the gateway has no \`auth\` (jwtAuthenticator)`);
  return async function checkAccess(request) {
    if (mode === 'optional' && request.headers.authorization === undefined) return;
    // Node keeps the first Authorization of several and drops the rest: which one counts would
    // depend on who reads the request (a proxy may take the last), so two are refused
    if (headerLines(request.raw.rawHeaders, 'authorization') > 1) {
      throw new HeraldError(HttpErrors.authorizationMalformed, 'the Authorization header must appear once');
    }
    const principal = await auth.authenticate(request.headers);
    if (roles.length > 0 && !roles.some((role) => principal.roles.includes(role))) {
      throw new HeraldError(HttpErrors.forbidden, `${where} requires one of the roles ${roles.join(', ')}`);
    }
    principals.set(request, principal);
  };
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, `gateway: ${message}`);
}

/** The 401s that refuse a bearer token the request presented. */
const TOKEN_REFUSALS: ReadonlySet<string> = new Set([
  HttpErrorCodes.authorizationMalformed,
  HttpErrorCodes.tokenMalformed,
  HttpErrorCodes.tokenAlgorithmNotAllowed,
  HttpErrorCodes.tokenKeyUnknown,
  HttpErrorCodes.tokenSignatureInvalid,
  HttpErrorCodes.tokenExpiryMissing,
  HttpErrorCodes.tokenExpired,
  HttpErrorCodes.tokenTypeInvalid,
  HttpErrorCodes.tokenNotYetValid,
  HttpErrorCodes.tokenAudienceInvalid,
  HttpErrorCodes.tokenIssuerInvalid,
  HttpErrorCodes.tokenClaimsInvalid,
]);

/**
 * The `WWW-Authenticate` challenge of a 401 with this code. Every 401 must carry one (RFC 9110
 * §11.6.1), and Bearer is the scheme the gateway verifies. `error="invalid_token"` says the token
 * sent was refused (RFC 6750 §3.1), so it goes only with the gateway's own token refusals: a 401
 * with no token (`authentication-required`) or of the application's own (a login's wrong password,
 * mapped to `unauthorized`) gets the bare challenge, which tells a client no token was at fault.
 */
export function bearerChallenge(code: string): string {
  return TOKEN_REFUSALS.has(code) ? 'Bearer error="invalid_token"' : 'Bearer';
}
