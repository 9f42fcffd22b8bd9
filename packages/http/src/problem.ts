import { ErrorCodes, isHeraldError } from '@herald/core';
import type { ValidationIssue } from '@herald/core';
import { HttpErrorCodes, type HttpErrorCode } from './errors.js';

/** Status and fixed title of every code the gateway maps (RFC 9457: a title does not vary by occurrence). */
export const PROBLEM_CATALOG: Readonly<Record<string, { readonly status: number; readonly title: string }>> = {
  [HttpErrorCodes.badRequest]: { status: 400, title: 'Bad request' },
  [HttpErrorCodes.malformedJson]: { status: 400, title: 'Malformed JSON body' },
  [HttpErrorCodes.bodyTooDeep]: { status: 400, title: 'JSON body nested too deep' },
  [HttpErrorCodes.idempotencyKeyMissing]: { status: 400, title: 'Idempotency-Key header required' },
  [HttpErrorCodes.idempotencyKeyInvalid]: { status: 400, title: 'Invalid Idempotency-Key header' },
  [HttpErrorCodes.correlationIdInvalid]: { status: 400, title: 'Invalid X-Correlation-Id header' },
  [HttpErrorCodes.authenticationRequired]: { status: 401, title: 'Authentication required' },
  [HttpErrorCodes.authorizationMalformed]: { status: 401, title: 'Malformed Authorization header' },
  [HttpErrorCodes.tokenMalformed]: { status: 401, title: 'Malformed token' },
  [HttpErrorCodes.tokenAlgorithmNotAllowed]: { status: 401, title: 'Token algorithm not allowed' },
  [HttpErrorCodes.tokenKeyUnknown]: { status: 401, title: 'Token signing key unknown' },
  [HttpErrorCodes.tokenSignatureInvalid]: { status: 401, title: 'Invalid token signature' },
  [HttpErrorCodes.tokenExpiryMissing]: { status: 401, title: 'Token has no expiry' },
  [HttpErrorCodes.tokenExpired]: { status: 401, title: 'Token expired' },
  [HttpErrorCodes.tokenNotYetValid]: { status: 401, title: 'Token not yet valid' },
  [HttpErrorCodes.tokenAudienceInvalid]: { status: 401, title: 'Token audience not accepted' },
  [HttpErrorCodes.tokenIssuerInvalid]: { status: 401, title: 'Token issuer not trusted' },
  [HttpErrorCodes.tokenClaimsInvalid]: { status: 401, title: 'Invalid token claims' },
  [HttpErrorCodes.unauthorized]: { status: 401, title: 'Unauthorized' },
  [HttpErrorCodes.forbidden]: { status: 403, title: 'Forbidden' },
  [HttpErrorCodes.notFound]: { status: 404, title: 'Not found' },
  [HttpErrorCodes.conflict]: { status: 409, title: 'Conflict' },
  [HttpErrorCodes.idempotencyKeyInFlight]: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  [HttpErrorCodes.requestIncomplete]: { status: 408, title: 'Request timeout' },
  [HttpErrorCodes.payloadTooLarge]: { status: 413, title: 'Request body too large' },
  [HttpErrorCodes.uriTooLong]: { status: 414, title: 'URI too long' },
  [HttpErrorCodes.unsupportedMediaType]: { status: 415, title: 'Unsupported media type' },
  [HttpErrorCodes.headersTooLarge]: { status: 431, title: 'Request header fields too large' },
  [HttpErrorCodes.idempotencyKeyReused]: { status: 422, title: 'Idempotency-Key reused with a different request' },
  [ErrorCodes.schemaViolation]: { status: 422, title: 'Request does not match its schema' },
  [ErrorCodes.invalidOptions]: { status: 422, title: 'Unprocessable request' },
  [ErrorCodes.valueRejected]: { status: 422, title: 'A value the store cannot keep' },
  [ErrorCodes.eventTooLarge]: { status: 422, title: 'Resulting event too large' },
  [HttpErrorCodes.unavailable]: { status: 503, title: 'Service unavailable' },
  [HttpErrorCodes.keysUnavailable]: { status: 503, title: 'Token keys unavailable' },
  [ErrorCodes.closed]: { status: 503, title: 'Service unavailable' },
  [ErrorCodes.brokerUnavailable]: { status: 503, title: 'Service unavailable' },
  [ErrorCodes.timeout]: { status: 503, title: 'Service unavailable' },
  [HttpErrorCodes.badGateway]: { status: 502, title: 'Bad gateway' },
  [HttpErrorCodes.gatewayTimeout]: { status: 504, title: 'Gateway timeout' },
  [HttpErrorCodes.internal]: { status: 500, title: 'Internal server error' },
};

/**
 * Codes of Herald's other packages that a route may let through, mapped like `errorKinds` (each
 * keeps its own code and type). They are named, not imported: those packages build on this one
 * (not the reverse), and their tests check these names against their catalogues. A gateway's own
 * `errorKinds` takes precedence.
 */
const HERALD_ERROR_KINDS: Readonly<Record<string, HttpErrorCode>> = {
  // @herald/reply: a route asking another service with requester.request()
  'reply-invalid': HttpErrorCodes.badGateway,
  'request-timeout': HttpErrorCodes.gatewayTimeout,
  'requester-not-started': HttpErrorCodes.unavailable,
  'requester-closed': HttpErrorCodes.unavailable,
};

/** An RFC 9457 problem details object, with Herald's extension members. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance: string;
  /** The error code that produced it (extension member). */
  readonly code: string;
  /** Offending fields of a schema violation (extension member, 422 only). */
  readonly errors?: readonly ValidationIssue[];
}

/** The media type of every error response. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** How {@link toProblem} names and maps problems. */
export interface ProblemOptions {
  /** Prefix of `type`; the error code is appended. Default `urn:herald:problem:`. */
  readonly typeBase?: string;
  /** Domain error codes mapped to one of the catalog's codes, e.g. `{ 'seat-held': 'conflict' }`. */
  readonly errorKinds?: Readonly<Record<string, string>>;
}

/** Framework (fastify) error codes, by the HTTP code they mean. */
const FRAMEWORK_CODES: Readonly<Record<string, HttpErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: HttpErrorCodes.payloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: HttpErrorCodes.unsupportedMediaType,
  FST_ERR_CTP_INVALID_JSON_BODY: HttpErrorCodes.malformedJson,
  FST_ERR_CTP_EMPTY_JSON_BODY: HttpErrorCodes.malformedJson,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: HttpErrorCodes.badRequest,
  FST_ERR_NOT_FOUND: HttpErrorCodes.notFound,
  FST_ERR_BAD_URL: HttpErrorCodes.badRequest,
  FST_ERR_MAX_PARAM_LENGTH: HttpErrorCodes.uriTooLong,
};

/** Other framework client errors, by the status the framework gave them. */
const FRAMEWORK_STATUSES: Readonly<Record<number, HttpErrorCode>> = {
  400: HttpErrorCodes.badRequest,
  404: HttpErrorCodes.notFound,
  413: HttpErrorCodes.payloadTooLarge,
  415: HttpErrorCodes.unsupportedMediaType,
};

/**
 * Maps anything thrown while serving a request to a problem: Herald errors by `code` (through
 * `errorKinds` for domain codes; `@herald/reply`'s codes: `reply-invalid` 502, `request-timeout`
 * 504, `requester-not-started` and `requester-closed` 503), framework errors by their code,
 * validation failures to 422 with `errors` (on a 422 only). Unknown retriable Herald errors become
 * 503, everything else 500. A 500 (an unmapped code, or `internal` itself) always gets the generic
 * `detail`, so internals do not leak (the caller logs the original).
 */
export function toProblem(thrown: unknown, instance: string, options: ProblemOptions = {}): Problem {
  const { code, entry, known } = classify(thrown, options.errorKinds);
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  const problem: Problem = {
    type: `${options.typeBase ?? 'urn:herald:problem:'}${code}`,
    title: entry.title,
    status: entry.status,
    detail: known ? message : entry.title,
    instance,
    code,
  };
  // only the request's own fields: another status's issues (a reply's, an event's) are not the client's to see
  const issues = problem.status === 422 ? issuesOf(thrown) : undefined;
  return issues ? { ...problem, errors: issues } : problem;
}

/** The code a problem reports and its catalog entry (possibly an alias's). */
function classify(thrown: unknown, errorKinds: ProblemOptions['errorKinds']): { code: string; entry: { status: number; title: string }; known: boolean } {
  const raw = (thrown as { code?: unknown } | null)?.code;
  const specific = typeof raw === 'string' ? (FRAMEWORK_CODES[raw] ?? raw) : undefined;
  if (specific !== undefined) {
    const entry = PROBLEM_CATALOG[specific] ?? PROBLEM_CATALOG[errorKinds?.[specific] ?? HERALD_ERROR_KINDS[specific] ?? ''];
    // a 500 is a fault of ours, and its message (a stack frame, a library's complaint) is for the log
    if (entry) return { code: specific, entry, known: entry.status !== 500 };
  }
  const byStatus = FRAMEWORK_STATUSES[(thrown as { statusCode?: number } | null)?.statusCode ?? 0];
  if (byStatus !== undefined) return { code: byStatus, entry: PROBLEM_CATALOG[byStatus]!, known: true };
  const code = isHeraldError(thrown) && thrown.retriable ? HttpErrorCodes.unavailable : HttpErrorCodes.internal;
  return { code, entry: PROBLEM_CATALOG[code]!, known: false };
}

function issuesOf(thrown: unknown): ValidationIssue[] | undefined {
  if (!isHeraldError(thrown)) return undefined;
  const issues = thrown.details?.['issues'];
  if (!Array.isArray(issues)) return undefined;
  return issues.map((i: ValidationIssue) => ({ path: i.path, message: i.message }));
}
