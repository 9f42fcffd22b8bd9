import { backoffDelay, resolveBackoff, type BackoffOptions } from '../backoff.js';
import type { Clock } from '../clock.js';
import { isRetriable, toError } from '../errors.js';
import { deriveContext, type Middleware } from '../handler.js';
import type { Instrumentation } from '../instrumentation.js';
import { isAborted } from '../internal/runtimeContext.js';
import { maybeStateOf } from '../internal/state.js';

export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, the first included. Default 5 (seed 003: 1 s, 2 s, 4 s, 8 s, then the DLQ). */
  readonly maxAttempts?: number;
}

export const RETRY_DEFAULTS = { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2, jitter: 0.2 } as const;

/**
 * Retries a failing handler with exponential backoff and jitter, up to `maxAttempts` in all.
 * Errors marked non-retriable (`retriable: false`, e.g. schema violations) are rethrown at once.
 * The last error is rethrown; the attempts made are recorded in the delivery's state for the
 * dead-letter policy. Waiting uses the clock and stops early when `ctx.signal` aborts (closing).
 */
export function retry(options: RetryOptions & { clock: Clock; instrumentation?: Instrumentation; random?: () => number }): Middleware {
  const maxAttempts = options.maxAttempts ?? RETRY_DEFAULTS.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`retry: maxAttempts must be a positive integer, got ${maxAttempts}`);
  const backoff = resolveBackoff(options, RETRY_DEFAULTS);
  const { clock, instrumentation, random } = options;
  return (next) =>
    async function retryHandler(event, ctx) {
      const state = maybeStateOf(ctx);
      for (let attempt = 1; ; attempt++) {
        if (state) state.attempts = attempt;
        try {
          await next(event, attempt === ctx.attempt ? ctx : deriveContext(ctx, { attempt }));
          return;
        } catch (thrown) {
          const error = toError(thrown);
          if (state && state.firstFailureAt === undefined) state.firstFailureAt = clock.now();
          const closing = state?.closing;
          if (attempt >= maxAttempts || !isRetriable(error) || isAborted(ctx) || closing?.aborted) {
            throw error;
          }
          const delayMs = backoffDelay(backoff, attempt, random);
          ctx.logger.warn('handler failed, retrying', { attempt, delayMs, error });
          if (instrumentation?.active) {
            instrumentation.emit({ kind: 'retried', group: ctx.group, handler: ctx.handler, eventType: event.type, attempt, delayMs, error });
          }
          await clock.sleep(delayMs, closing ? AbortSignal.any([ctx.signal, closing]) : ctx.signal).catch(() => {
            throw error;
          });
        }
      }
    };
}
