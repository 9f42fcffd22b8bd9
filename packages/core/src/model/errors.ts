/**
 * Herald's one small error hierarchy. Every error carries a stable `code`, says whether retrying
 * can help (`retriable`) and may wrap a `cause`. Check errors by `code` (see {@link isHeraldError}),
 * not only with `instanceof`: errors cross package and process boundaries. Each package lists its
 * codes in one catalogue made with {@link defineErrorCodes}; `docs/errors.md` documents them all.
 */

/** One documented error code: what it means, whether retrying may help, what to do about it. */
export interface ErrorCodeSpec<C extends string = string> {
  readonly code: C;
  /** The default for errors of this code; a throw site may say otherwise when it knows better. */
  readonly retriable: boolean;
  /** What happened, in one sentence. */
  readonly meaning: string;
  /** What an operator or developer should do. */
  readonly action: string;
}

export interface HeraldErrorOptions {
  /** Defaults to the spec's `retriable` when a spec is given, else false. */
  readonly retriable?: boolean;
  readonly cause?: unknown;
  readonly details?: Record<string, unknown>;
}

export class HeraldError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  /** Extra structured detail (validation issues, limits...), safe to serialise. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  /** `code` is a catalogue entry (preferred: its `retriable` is the default) or a code of your own. */
  constructor(code: ErrorCodeSpec | string, message: string, options: HeraldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeraldError';
    this.code = typeof code === 'string' ? code : code.code;
    this.retriable = options.retriable ?? (typeof code === 'string' ? false : code.retriable);
    this.details = options.details;
  }
}

type Catalogue = Readonly<Record<string, Omit<ErrorCodeSpec, 'code'> & { readonly code: string }>>;

/**
 * Declares a package's error codes in one place. Returns the catalogue (entries to throw with:
 * `new HeraldError(Catalogue.timeout, message)`) and `codes`, the plain code strings to compare
 * with (`error.code === codes.timeout`). Codes must be kebab-case and unique within the catalogue.
 */
export function defineErrorCodes<const T extends Catalogue>(catalogue: T): { readonly specs: { readonly [K in keyof T]: T[K] & ErrorCodeSpec<T[K]['code']> }; readonly codes: { readonly [K in keyof T]: T[K]['code'] } } {
  const codes: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, spec] of Object.entries(catalogue)) {
    if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(spec.code)) throw new TypeError(`error code "${spec.code}" (${name}) must be kebab-case`);
    if (seen.has(spec.code)) throw new TypeError(`error code "${spec.code}" is declared twice`);
    seen.add(spec.code);
    codes[name] = spec.code;
  }
  return { specs: catalogue as never, codes: Object.freeze(codes) as never };
}

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
