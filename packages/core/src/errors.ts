/**
 * Herald's one small error hierarchy. Every error carries a stable `code`, says whether retrying
 * can help (`retriable`) and may wrap a `cause`. Check errors by `code` (see {@link isHeraldError}),
 * not only with `instanceof`: errors cross package and process boundaries.
 */
export class HeraldError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  /** Extra structured detail (validation issues, limits...), safe to serialise. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options: { retriable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeraldError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

/** One problem found by schema validation: where (JSON pointer) and what. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** The data of an event does not match its schema. Never retriable. */
export class ValidationError extends HeraldError {
  readonly issues: readonly ValidationIssue[];
  constructor(eventType: string, issues: readonly ValidationIssue[]) {
    const first = issues.slice(0, 3).map((i) => `${i.path || '/'} ${i.message}`).join('; ');
    super('schema-violation', `${eventType} does not match its schema: ${first}`, { details: { issues } });
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** Error codes Herald itself raises. Adapters may add their own. */
export const ErrorCodes = {
  schemaViolation: 'schema-violation',
  unknownEventType: 'unknown-event-type',
  malformedEnvelope: 'malformed-envelope',
  eventTooLarge: 'event-too-large',
  timeout: 'timeout',
  handlerFailed: 'handler-failed',
  closed: 'closed',
  invalidOptions: 'invalid-options',
  brokerUnavailable: 'broker-unavailable',
  chaos: 'chaos',
  groupActive: 'group-active',
} as const;

/** Structural check: true for any error carrying a string `code` and boolean `retriable`. */
export function isHeraldError(error: unknown): error is HeraldError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { retriable?: unknown }).retriable === 'boolean'
  );
}

/** Whether retrying the failed operation may succeed. Unknown errors are assumed transient. */
export function isRetriable(error: unknown): boolean {
  return isHeraldError(error) ? error.retriable : true;
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new HeraldError(ErrorCodes.handlerFailed, `non-error thrown: ${safeString(thrown)}`, {
    retriable: true,
    cause: thrown,
  });
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    return String(value);
  }
}
