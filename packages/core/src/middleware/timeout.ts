import type { Clock } from '../clock.js';
import { ErrorCodes, HeraldError } from '../errors.js';
import { deriveContext, type Middleware } from '../handler.js';

/**
 * Bounds each attempt to `timeoutMs`. On expiry the attempt's `ctx.signal` aborts (so a handler
 * that honours it stops, and its transaction rolls back) and a retriable `timeout` error is thrown.
 */
export function timeout(options: { timeoutMs: number; clock: Clock }): Middleware {
  const { timeoutMs, clock } = options;
  if (!(timeoutMs > 0)) throw new RangeError(`timeout: timeoutMs must be positive, got ${timeoutMs}`);
  return (next) =>
    async function timeoutHandler(event, ctx) {
      const attempt = new AbortController();
      const stopTimer = new AbortController();
      const onOuterAbort = () => attempt.abort(ctx.signal.reason);
      if (ctx.signal.aborted) attempt.abort(ctx.signal.reason);
      else ctx.signal.addEventListener('abort', onOuterAbort, { once: true });
      const expired = clock.sleep(timeoutMs, stopTimer.signal).then(
        () => {
          const error = new HeraldError(ErrorCodes.timeout, `${ctx.handler} did not finish within ${timeoutMs} ms`, { retriable: true });
          attempt.abort(error);
          throw error;
        },
        () => undefined, // the attempt finished first
      );
      try {
        await Promise.race([next(event, deriveContext(ctx, { signal: attempt.signal })), expired]);
      } finally {
        stopTimer.abort();
        ctx.signal.removeEventListener('abort', onOuterAbort);
      }
    };
}
