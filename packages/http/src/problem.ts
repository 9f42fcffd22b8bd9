import { ErrorCodes, isHeraldError } from '@herald/core';
import type { ValidationIssue } from '@herald/core';

/**
 * Error codes the HTTP layer raises or understands, besides the core's. Each maps to one HTTP
 * status in {@link PROBLEM_CATALOG}; this package is the only place in Herald that knows statuses.
 */
export const HttpErrorCodes = {
  badRequest: 'bad-request',
  malformedJson: 'malformed-json',
  idempotencyKeyMissing: 'idempotency-key-missing',
  idempotencyKeyInvalid: 'idempotency-key-invalid',
  notFound: 'not-found',
  conflict: 'conflict',
  idempotencyKeyInFlight: 'idempotency-key-in-flight',
  payloadTooLarge: 'payload-too-large',
  unsupportedMediaType: 'unsupported-media-type',
  idempotencyKeyReused: 'idempotency-key-reused',
  unavailable: 'unavailable',
  internal: 'internal',
} as const;

/** One of {@link HttpErrorCodes}. */
export type HttpErrorCode = (typeof HttpErrorCodes)[keyof typeof HttpErrorCodes];

/** Status and fixed title of every code the gateway maps (RFC 9457: a title does not vary by occurrence). */
export const PROBLEM_CATALOG: Readonly<Record<string, { readonly status: number; readonly title: string }>> = {
  [HttpErrorCodes.badRequest]: { status: 400, title: 'Bad request' },
  [HttpErrorCodes.malformedJson]: { status: 400, title: 'Malformed JSON body' },
  [HttpErrorCodes.idempotencyKeyMissing]: { status: 400, title: 'Idempotency-Key header required' },
  [HttpErrorCodes.idempotencyKeyInvalid]: { status: 400, title: 'Invalid Idempotency-Key header' },
  [HttpErrorCodes.notFound]: { status: 404, title: 'Not found' },
  [HttpErrorCodes.conflict]: { status: 409, title: 'Conflict' },
  [HttpErrorCodes.idempotencyKeyInFlight]: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  [HttpErrorCodes.payloadTooLarge]: { status: 413, title: 'Request body too large' },
  [HttpErrorCodes.unsupportedMediaType]: { status: 415, title: 'Unsupported media type' },
  [HttpErrorCodes.idempotencyKeyReused]: { status: 422, title: 'Idempotency-Key reused with a different request' },
  [ErrorCodes.schemaViolation]: { status: 422, title: 'Request does not match its schema' },
  [ErrorCodes.invalidOptions]: { status: 422, title: 'Unprocessable request' },
  [ErrorCodes.eventTooLarge]: { status: 422, title: 'Resulting event too large' },
  [HttpErrorCodes.unavailable]: { status: 503, title: 'Service unavailable' },
  [ErrorCodes.closed]: { status: 503, title: 'Service unavailable' },
  [ErrorCodes.brokerUnavailable]: { status: 503, title: 'Service unavailable' },
  [ErrorCodes.timeout]: { status: 503, title: 'Service unavailable' },
  [HttpErrorCodes.internal]: { status: 500, title: 'Internal server error' },
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
 * `errorKinds` for domain codes), framework errors by their code, validation failures to 422 with
 * `errors`. Unknown retriable Herald errors become 503, everything else 500; errors with an
 * unmapped code get a generic `detail`, so internals do not leak (the caller logs the original).
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
  const issues = issuesOf(thrown);
  return issues ? { ...problem, errors: issues } : problem;
}

/** The code a problem reports and its catalog entry (possibly an alias's). */
function classify(thrown: unknown, errorKinds: ProblemOptions['errorKinds']): { code: string; entry: { status: number; title: string }; known: boolean } {
  const raw = (thrown as { code?: unknown } | null)?.code;
  const specific = typeof raw === 'string' ? (FRAMEWORK_CODES[raw] ?? raw) : undefined;
  if (specific !== undefined) {
    const entry = PROBLEM_CATALOG[specific] ?? PROBLEM_CATALOG[errorKinds?.[specific] ?? ''];
    if (entry) return { code: specific, entry, known: true };
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
