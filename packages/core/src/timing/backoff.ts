import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { MAX_TIMER_MS } from '../ports/clock.js';
/** Exponential backoff with jitter, shared by the retry middleware and the relay. */
export interface BackoffOptions {
  /** Delay before the second attempt. */
  readonly initialDelayMs?: number;
  /** Upper bound of any delay. */
  readonly maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Fraction of each delay that is random (0: none, 1: "full jitter"). Default 0.2. */
  readonly jitter?: number;
}

/**
 * The delay after failed attempt number `attempt` (1-based): `initial * factor^(attempt-1)`,
 * capped at `max`, of which a `jitter` fraction is drawn at random so that many failing consumers
 * do not retry in lockstep.
 */
export function backoffDelay(options: Required<BackoffOptions>, attempt: number, random: () => number = Math.random): number {
  const exact = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** Math.max(0, attempt - 1));
  return Math.round(exact * (1 - options.jitter) + exact * options.jitter * random());
}

export function resolveBackoff(options: BackoffOptions | undefined, defaults: Required<BackoffOptions>): Required<BackoffOptions> {
  const resolved = { ...defaults, ...stripUndefined(options ?? {}) };
  if (!(resolved.initialDelayMs >= 0) || !(resolved.maxDelayMs >= resolved.initialDelayMs)) {
    throw new HeraldError(CoreErrors.invalidOptions, `backoff: need 0 <= initialDelayMs <= maxDelayMs, got ${resolved.initialDelayMs} and ${resolved.maxDelayMs}`);
  }
  // a longer wait would make Node's timer fire after 1 ms
  if (resolved.maxDelayMs > MAX_TIMER_MS) throw new HeraldError(CoreErrors.invalidOptions, `backoff: maxDelayMs must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${resolved.maxDelayMs}`);
  if (!(resolved.factor >= 1)) throw new HeraldError(CoreErrors.invalidOptions, `backoff: factor must be >= 1, got ${resolved.factor}`);
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1)) throw new HeraldError(CoreErrors.invalidOptions, `backoff: jitter must be in [0, 1], got ${resolved.jitter}`);
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
