import { CoreErrors, HeraldError, MAX_TIMER_MS, isHeraldError } from '@herald/core';
import type { Logger } from '@herald/core';
import type { AwaitEvent, EventWait, RouteResponse } from './routes.js';

/**
 * The answer of an `awaitEvent` route once its work committed: what `lookup` knows, else the
 * awaited event's, else the 202 with its `Location`. The work is done, so a wait the waiter cannot
 * take (not started yet, or closed) or a lookup that throws does not fail the request: it is
 * logged, and the route answers as when the event does not come in time (the client polls the
 * `Location` or retries its key); so does a wait that rejects. The route's own `answer`,
 * `location` and `pending` are its code: one that throws is a 500, as a throwing `handle` is.
 */
export async function answerFromEvent<R>(awaited: AwaitEvent<R>, result: R, logger: Logger): Promise<RouteResponse> {
  let expectation: ReturnType<EventWait['expect']> | undefined;
  try {
    expectation = awaited.waiter.expect(awaited.correlationId(result), { timeoutMs: awaited.timeoutMs, ...(awaited.until ? { until: awaited.until } : {}) });
  } catch (error) {
    logAfterCommit(logger, 'http: the awaited event cannot be waited for; the route answers without it', error);
  }
  // a wait may reject: the work is done all the same. Caught at once, so that a rejection while
  // the lookup runs (or after it answered) is not an unhandled one, which ends the process
  const waited = expectation
    ? Promise.resolve(expectation.result).catch((error: unknown): undefined => {
        logAfterCommit(logger, 'http: the wait for the awaited event failed; the route answers without it', error);
        return undefined;
      })
    : undefined;
  let known: RouteResponse | undefined;
  try {
    known = await awaited.lookup?.(result);
  } catch (error) {
    logAfterCommit(logger, 'http: the lookup of an awaited outcome failed; the route answers without it', error);
  }
  if (known) {
    expectation?.cancel();
    return known;
  }
  const event = await waited;
  if (event) return awaited.answer(event, result);
  return { status: 202, body: awaited.pending ? awaited.pending(result) : result, headers: { location: awaited.location(result) } };
}

/**
 * Refuses, when the route is declared, an `awaitEvent` the waiter would refuse per request: after
 * the commit such a refusal can only be logged and answered with the 202, so it would go unseen.
 */
export function checkAwaitEvent<R>(awaited: AwaitEvent<R>, route: string): void {
  const invalid = (why: string) => new HeraldError(CoreErrors.invalidOptions, `command ${route}: awaitEvent.${why}`);
  if (typeof awaited.waiter?.expect !== 'function') throw invalid('waiter must have expect() (createEventWaiter from @herald/reply gives one)');
  if (!(Number.isInteger(awaited.timeoutMs) && awaited.timeoutMs > 0 && awaited.timeoutMs <= MAX_TIMER_MS)) {
    throw invalid(`timeoutMs must be a whole number of ms from 1 to ${MAX_TIMER_MS}, got ${String(awaited.timeoutMs)}`);
  }
  for (const name of ['correlationId', 'answer', 'location'] as const) {
    if (typeof awaited[name] !== 'function') throw invalid(`${name} must be a function`);
  }
}

/** A failure after the work committed: at warn when it may pass (a waiter closing, a store busy), else at error. */
function logAfterCommit(logger: Logger, message: string, error: unknown): void {
  if (isHeraldError(error) && error.retriable) logger.warn(message, { error });
  else logger.error(message, { error });
}
