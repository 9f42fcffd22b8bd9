import type { Clock } from '../clock.js';
import { ErrorCodes, HeraldError } from '../errors.js';
import { deriveContext, type Middleware } from '../handler.js';
import { maybeStateOf } from '../internal/state.js';

/**
 * Bounds each attempt to `timeoutMs`. On expiry the attempt's `ctx.signal` aborts (so a handler
 * that honours it stops, and its transaction rolls back) and a retriable `timeout` error is thrown.
 * The attempt's signal also aborts when the consumer stops.
 */
export function timeout(options: { timeoutMs: number; clock: Clock }): Middleware {
  const { timeoutMs, clock } = options;
  if (!(timeoutMs > 0)) throw new RangeError(`timeout: timeoutMs must be positive, got ${timeoutMs}`);
  return (next) =>
    async function timeoutHandler(event, ctx) {
      const attempt = new AbortController();
      if (ctx.signal.aborted) attempt.abort(ctx.signal.reason);
      // in the runtime, the consumer aborts registered attempts when it stops; this avoids one
      // listener per in-flight event on a shared signal
      const registry = maybeStateOf(ctx)?.attemptsInFlight;
      const onOuterAbort = () => attempt.abort(ctx.signal.reason);
      if (registry) registry.add(attempt);
      else ctx.signal.addEventListener('abort', onOuterAbort, { once: true });
      let expire: (error: HeraldError) => void = () => {};
      const expired = new Promise<never>((_, reject) => (expire = reject));
      const cancel = clock.setTimer(timeoutMs, () => {
        const error = new HeraldError(ErrorCodes.timeout, `${ctx.handler} did not finish within ${timeoutMs} ms`, { retriable: true });
        attempt.abort(error);
        expire(error);
      });
      try {
        await Promise.race([next(event, deriveContext(ctx, { signal: attempt.signal })), expired]);
      } finally {
        cancel();
        if (registry) registry.delete(attempt);
        else ctx.signal.removeEventListener('abort', onOuterAbort);
      }
    };
}
