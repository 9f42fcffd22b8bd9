import { CoreErrors } from '../../model/errorCodes.js';
import { HeraldError } from '../../model/errors.js';
import type { Clock } from '../../ports/clock.js';
import { Deadlines } from '../../timing/deadlines.js';
import type { Middleware } from '../handler.js';

/**
 * Bounds each attempt to `timeoutMs`. On expiry the attempt's `ctx.signal` aborts (so a handler
 * that honours it stops, and its transaction rolls back) and a retriable `timeout` error is thrown
 * at once, whether or not the handler stops — unless the attempt's transaction is already
 * committing (its work returned in time, see `AttemptScope.committing`): the commit then decides,
 * and the attempt ends with it. The attempt's signal also aborts when the consumer stops.
 */
export function timeout<Tx = unknown>(options: { timeoutMs: number; clock: Clock }): Middleware<Tx> {
  const { timeoutMs, clock } = options;
  if (!(timeoutMs > 0)) throw new HeraldError(CoreErrors.invalidOptions, `timeout: timeoutMs must be positive, got ${timeoutMs}`);
  const deadlines = new Deadlines(clock);
  return (next) =>
    function timeoutHandler(event, ctx) {
      const attempt = ctx.beginAttempt();
      return new Promise<void>((resolve, reject) => {
        const expirable = {
          deadline: clock.now() + timeoutMs,
          expire() {
            const error = new HeraldError(CoreErrors.timeout, `${ctx.handler} did not finish within ${timeoutMs} ms`);
            attempt.abort(error);
            // its work is done and committing: the commit's outcome is the attempt's (a timeout
            // now would retry, or dead-letter, an event whose effects then commit)
            if (!attempt.committing) reject(error);
          },
        };
        deadlines.add(expirable);
        next(event, attempt.ctx).then(
          () => {
            deadlines.delete(expirable);
            attempt.end();
            resolve();
          },
          (error: unknown) => {
            deadlines.delete(expirable);
            attempt.end();
            reject(error);
          },
        );
      });
    };
}
