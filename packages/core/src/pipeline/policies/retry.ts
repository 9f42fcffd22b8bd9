import { CoreErrors, toError } from '../../model/errorCodes.js';
import { HeraldError, isRetriable } from '../../model/errors.js';
import type { Clock } from '../../ports/clock.js';
import type { Instrumentation } from '../../ports/instrumentation.js';
import { backoffDelay, resolveBackoff, type BackoffOptions } from '../../timing/backoff.js';
import type { Middleware } from '../handler.js';

export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, the first included. Default 5 (seed 003: 1 s, 2 s, 4 s, 8 s, then the DLQ). */
  readonly maxAttempts?: number;
}

export const RETRY_DEFAULTS = { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2, jitter: 0.2 } as const;

/**
 * Retries a failing handler with exponential backoff and jitter, up to `maxAttempts` in all.
 * Errors marked non-retriable (`retriable: false`, e.g. schema violations) are rethrown at once.
 * The last error is rethrown; each attempt and failure is recorded in the delivery state for the
 * dead-letter policy. Waiting uses the clock and stops early when the attempt's signal aborts or
 * the consumer starts closing. A redrive gets one attempt.
 */
export function retry<Tx = unknown>(options: RetryOptions & { clock: Clock; instrumentation?: Instrumentation; random?: () => number }): Middleware<Tx> {
  const maxAttempts = options.maxAttempts ?? RETRY_DEFAULTS.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new HeraldError(CoreErrors.invalidOptions, `retry: maxAttempts must be a positive integer, got ${maxAttempts}`);
  const backoff = resolveBackoff(options, RETRY_DEFAULTS);
  const { clock, instrumentation, random } = options;
  return (next) =>
    async function retryHandler(event, ctx) {
      const { state } = ctx;
      const attempts = ctx.redrive ? 1 : maxAttempts;
      for (let attempt = 1; ; attempt++) {
        state.attemptStarted(attempt);
        try {
          await next(event, attempt === ctx.attempt ? ctx : ctx.with({ attempt }));
          return;
        } catch (thrown) {
          const error = toError(thrown);
          state.attemptFailed(error, clock.now());
          if (attempt >= attempts || !isRetriable(error) || state.closing.aborted || ctx.aborted) throw error;
          const delayMs = backoffDelay(backoff, attempt, random);
          ctx.logger.warn('handler failed, retrying', { attempt, delayMs, error });
          if (instrumentation?.active) {
            instrumentation.emit({ kind: 'retried', group: ctx.group, handler: ctx.handler, eventType: event.type, attempt, delayMs, error });
          }
          await clock.sleep(delayMs, AbortSignal.any([ctx.signal, state.closing])).catch(() => {
            throw error;
          });
        }
      }
    };
}
