import { adjustPublish } from '@herald/core';
import type { Envelope, Publish } from '@herald/core';

/** The authenticated caller of a request. */
export interface Principal {
  /**
   * Who the caller is: what events carry in `X-Username` and Idempotency-Keys are scoped to. From
   * `jwtAuthenticator`, the username claim, issuer-qualified (`<iss>#<username>`) when it trusts
   * several issuers; the bare claims stay in `claims`.
   */
  readonly username: string;
  /** Never contain a comma (they travel comma-separated in {@link PRINCIPAL_HEADERS}). */
  readonly roles: readonly string[];
  /** Every claim of the verified token. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * Envelope headers carrying the principal on every event an authenticated request publishes
 * (named as in seed 004). Roles are comma-separated.
 */
export const PRINCIPAL_HEADERS = { username: 'X-Username', roles: 'X-Roles' } as const;

/**
 * The principal of the request that published `event`, from its headers; undefined when the
 * event was not published by an authenticated request. A handler reads it as
 * `principalOf(event)?.username`. (Claims do not travel; only username and roles.)
 */
export function principalOf(event: Pick<Envelope, 'headers'>): Pick<Principal, 'username' | 'roles'> | undefined {
  const username = event.headers[PRINCIPAL_HEADERS.username];
  if (username === undefined || username.length === 0) return undefined;
  const roles = event.headers[PRINCIPAL_HEADERS.roles];
  return { username, roles: roles ? roles.split(',') : [] };
}

/**
 * `publish` that puts the principal's headers on every event, over any the caller passed: the
 * identity on an event is the gateway's word, not the route handler's.
 */
export function publishAs(publish: Publish, principal: Principal): Publish {
  const headers = { [PRINCIPAL_HEADERS.username]: principal.username, [PRINCIPAL_HEADERS.roles]: principal.roles.join(',') };
  return adjustPublish(publish, (options) => ({ ...options, headers: { ...options.headers, ...headers } }));
}

/**
 * The idempotency key a request is stored under: the client's key scoped to its principal, so
 * the same key sent by two users is two requests (and one user can never replay another's
 * response). The unit separator (0x1f) cannot occur in a client key (printable ASCII only), so
 * scoped keys cannot collide with each other or with unscoped ones.
 */
export function scopedIdempotencyKey(key: string, principal: Principal | undefined): string {
  return principal ? `\u001fuser:${principal.username}\u001f${key}` : key;
}
