import { describeThrown, ErrorCodes, isHeraldError } from '@herald/core';
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
  [HttpErrorCodes.tokenTypeInvalid]: { status: 401, title: 'Token type not accepted' },
  [HttpErrorCodes.tokenNotYetValid]: { status: 401, title: 'Token not yet valid' },
  [HttpErrorCodes.tokenAudienceInvalid]: { status: 401, title: 'Token audience not accepted' },
  [HttpErrorCodes.tokenIssuerInvalid]: { status: 401, title: 'Token issuer not trusted' },
  [HttpErrorCodes.tokenClaimsInvalid]: { status: 401, title: 'Invalid token claims' },
  [HttpErrorCodes.unauthorized]: { status: 401, title: 'Unauthorized' },
  [HttpErrorCodes.forbidden]: { status: 403, title: 'Forbidden' },
  [HttpErrorCodes.notFound]: { status: 404, title: 'Not found' },
  [HttpErrorCodes.methodNotAllowed]: { status: 405, title: 'Method not allowed' },
  [HttpErrorCodes.conflict]: { status: 409, title: 'Conflict' },
  [HttpErrorCodes.idempotencyKeyInFlight]: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  [HttpErrorCodes.requestIncomplete]: { status: 408, title: 'Request timeout' },
  [HttpErrorCodes.payloadTooLarge]: { status: 413, title: 'Request body too large' },
  [HttpErrorCodes.uriTooLong]: { status: 414, title: 'URI too long' },
  [HttpErrorCodes.unsupportedMediaType]: { status: 415, title: 'Unsupported media type' },
  [HttpErrorCodes.contentEncodingUnsupported]: { status: 415, title: 'Unsupported content encoding' },
  [HttpErrorCodes.headersTooLarge]: { status: 431, title: 'Request header fields too large' },
  [HttpErrorCodes.forbiddenProperty]: { status: 422, title: 'Forbidden property in JSON body' },
  [HttpErrorCodes.idempotencyKeyReused]: { status: 422, title: 'Idempotency-Key reused with a different request' },
  [ErrorCodes.schemaViolation]: { status: 422, title: 'Request does not match its schema' },
  [ErrorCodes.invalidOptions]: { status: 422, title: 'Unprocessable request' },
  [ErrorCodes.valueRejected]: { status: 422, title: 'A value the store cannot keep' },
  [ErrorCodes.eventTooLarge]: { status: 422, title: 'Resulting event too large' },
  [HttpErrorCodes.unavailable]: { status: 503, title: 'Service unavailable' },
  [HttpErrorCodes.overloaded]: { status: 503, title: 'Too many requests in flight' },
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

/** Other framework (fastify's `FST_`) client errors, by the status the framework gave them. */
const FRAMEWORK_STATUSES: Readonly<Record<number, HttpErrorCode>> = {
  400: HttpErrorCodes.badRequest,
  404: HttpErrorCodes.notFound,
  413: HttpErrorCodes.payloadTooLarge,
  415: HttpErrorCodes.unsupportedMediaType,
};

/**
 * What a 5xx says as its `detail`, by the catalog code it maps to (a code missing here says its
 * title). The error's own message is for the log (the gateway logs it with the request's ids,
 * which the response carries in `X-Request-Id`): a broker's, a store's or another service's
 * message names hosts, files and internals (`connect ECONNREFUSED 10.0.3.17:9092`, the SQLite
 * log's database path), and the client can do nothing with them but retry or report.
 */
const SERVER_DETAILS: Readonly<Record<string, string>> = {
  [HttpErrorCodes.unavailable]: 'the service cannot take the request now; retry later',
  [HttpErrorCodes.overloaded]: 'the service is serving as many requests as it can; retry later',
  [HttpErrorCodes.keysUnavailable]: 'the keys that verify tokens cannot be fetched now; retry later',
  [ErrorCodes.closed]: 'the service is shutting down; retry later',
  [ErrorCodes.brokerUnavailable]: 'the event log is unavailable; retry later',
  [ErrorCodes.timeout]: 'the service did not finish in time; retry later',
  [HttpErrorCodes.badGateway]: 'a service this one depends on gave an unusable answer',
  [HttpErrorCodes.gatewayTimeout]: 'a service this one depends on did not answer in time; retry later',
};

/**
 * A problem's `instance` for a request target: its path, without the query. A query may carry a
 * credential (`?access_token=`, an OAuth `code`), and a problem travels on into clients' logs,
 * proxies and error trackers; the response's `X-Request-Id` names the occurrence. Internal.
 */
export function problemInstance(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** Errors the gateway worded for the client (see {@link clientWorded}). */
const CLIENT_WORDED = new WeakSet<object>();

/**
 * `error`, marked as worded for the client by the gateway itself (a 503 saying it is shutting
 * down or not ready yet): its message is the `detail` even on a 5xx. Internal, not exported.
 */
export function clientWorded<E extends object>(error: E): E {
  CLIENT_WORDED.add(error);
  return error;
}

/**
 * Maps anything thrown while serving a request to a problem: Herald errors by `code` (through
 * `errorKinds` for domain codes; `@herald/reply`'s codes: `reply-invalid` 502, `request-timeout`
 * 504, `requester-not-started` and `requester-closed` 503), fastify's own errors (`FST_` codes)
 * by their code, then their status, validation failures to 422 with `errors` (on a 422 only).
 * Unknown retriable Herald errors become 503, everything else 500, also an error of another
 * library that carries an HTTP `statusCode` (of its own call, not of this request). A 4xx's
 * `detail` is the error's message (it says what to fix in the request); a 5xx's is its code's
 * generic wording ({@link SERVER_DETAILS}, else the title), so internals do not leak (the caller
 * logs the original), unless the gateway worded it for the client ({@link clientWorded}).
 */
export function toProblem(thrown: unknown, instance: string, options: ProblemOptions = {}): Problem {
  const { code, kind, entry } = classify(thrown, options.errorKinds);
  // JavaScript throws anything, also what String() cannot print (no prototype)
  const message = thrown instanceof Error ? thrown.message : describeThrown(thrown);
  const worded = entry.status < 500 || (typeof thrown === 'object' && thrown !== null && CLIENT_WORDED.has(thrown));
  const problem: Problem = {
    type: `${options.typeBase ?? 'urn:herald:problem:'}${code}`,
    title: entry.title,
    status: entry.status,
    detail: worded ? message : (SERVER_DETAILS[kind] ?? entry.title),
    instance,
    code,
  };
  // only the request's own fields: another status's issues (a reply's, an event's) are not the client's to see
  const issues = problem.status === 422 ? issuesOf(thrown) : undefined;
  return issues ? { ...problem, errors: issues } : problem;
}

/**
 * The code a problem reports, the catalog code it maps to (itself, or an alias's) and that code's
 * entry. Only Herald errors are mapped by their code and only fastify's own (`FST_` codes) by
 * their `statusCode`: anything else a route lets through, whatever it carries (an SDK's
 * `{ code: 'NoSuchKey', statusCode: 404 }` about its own call, an http-errors `status`), is a 500.
 */
function classify(thrown: unknown, errorKinds: ProblemOptions['errorKinds']): { code: string; kind: string; entry: { status: number; title: string } } {
  const raw = (thrown as { code?: unknown } | null)?.code;
  const framework = typeof raw === 'string' && raw.startsWith('FST_');
  const specific = framework ? (FRAMEWORK_CODES[raw] ?? raw) : isHeraldError(thrown) ? thrown.code : undefined;
  if (specific !== undefined) {
    const kind = PROBLEM_CATALOG[specific] ? specific : (errorKinds?.[specific] ?? HERALD_ERROR_KINDS[specific] ?? '');
    const entry = PROBLEM_CATALOG[kind];
    if (entry) return { code: specific, kind, entry };
  }
  const byStatus = framework ? FRAMEWORK_STATUSES[(thrown as { statusCode?: number }).statusCode ?? 0] : undefined;
  if (byStatus !== undefined) return { code: byStatus, kind: byStatus, entry: PROBLEM_CATALOG[byStatus]! };
  const code = isHeraldError(thrown) && thrown.retriable ? HttpErrorCodes.unavailable : HttpErrorCodes.internal;
  return { code, kind: code, entry: PROBLEM_CATALOG[code]! };
}

function issuesOf(thrown: unknown): ValidationIssue[] | undefined {
  if (!isHeraldError(thrown)) return undefined;
  const issues = thrown.details?.['issues'];
  if (!Array.isArray(issues)) return undefined;
  return issues.map((i: ValidationIssue) => ({ path: i.path, message: i.message }));
}
