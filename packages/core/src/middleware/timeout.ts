import type { Clock } from '../clock.js';
import { ErrorCodes, HeraldError } from '../errors.js';
import { deriveContext, type HandlerContext, type Middleware } from '../handler.js';
import { Deadlines } from '../internal/deadlines.js';
import { AttemptSignal, isRuntimeContext } from '../internal/runtimeContext.js';

/**
 * Bounds each attempt to `timeoutMs`. On expiry the attempt's `ctx.signal` aborts (so a handler
 * that honours it stops, and its transaction rolls back) and a retriable `timeout` error is thrown.
 * The attempt's signal also aborts when the consumer stops.
 */
export function timeout(options: { timeoutMs: number; clock: Clock }): Middleware {
  const { timeoutMs, clock } = options;
  if (!(timeoutMs > 0)) throw new RangeError(`timeout: timeoutMs must be positive, got ${timeoutMs}`);
  const deadlines = new Deadlines(clock);
  return (next) =>
    function timeoutHandler(event, ctx) {
      if (!isRuntimeContext(ctx)) return plainTimeout(next, event, ctx, timeoutMs, clock);
      const attempt = new AttemptSignal(ctx.stopSignal);
      // the consumer aborts registered attempts when it stops: no listener per event on a shared signal
      const registry = ctx.state.attemptsInFlight;
      registry?.add(attempt);
      return new Promise<void>((resolve, reject) => {
        const expirable = {
          deadline: clock.now() + timeoutMs,
          expire() {
            const error = timeoutError(ctx.handler, timeoutMs);
            attempt.abort(error);
            reject(error);
          },
        };
        deadlines.add(expirable);
        const settle = () => {
          deadlines.delete(expirable);
          registry?.delete(attempt);
        };
        next(event, ctx.withAttempt(attempt)).then(
          () => {
            settle();
            resolve();
          },
          (error: unknown) => {
            settle();
            reject(error);
          },
        );
      });
    };
}

function timeoutError(handler: string, timeoutMs: number): HeraldError {
  return new HeraldError(ErrorCodes.timeout, `${handler} did not finish within ${timeoutMs} ms`, { retriable: true });
}

/** The same policy for contexts not built by the runtime (used directly in tests or other hosts). */
async function plainTimeout(
  next: Parameters<Middleware>[0],
  event: Parameters<Parameters<Middleware>[0]>[0],
  ctx: HandlerContext,
  timeoutMs: number,
  clock: Clock,
): Promise<void> {
  const attempt = new AbortController();
  const onOuterAbort = () => attempt.abort(ctx.signal.reason);
  if (ctx.signal.aborted) attempt.abort(ctx.signal.reason);
  else ctx.signal.addEventListener('abort', onOuterAbort, { once: true });
  let expire: (error: HeraldError) => void = () => {};
  const expired = new Promise<never>((_, reject) => (expire = reject));
  const cancel = clock.setTimer(timeoutMs, () => {
    const error = timeoutError(ctx.handler, timeoutMs);
    attempt.abort(error);
    expire(error);
  });
  try {
    await Promise.race([next(event, deriveContext(ctx, { signal: attempt.signal })), expired]);
  } finally {
    cancel();
    ctx.signal.removeEventListener('abort', onOuterAbort);
  }
}
