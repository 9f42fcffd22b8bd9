import { CoreErrors, HeraldError } from '@herald/core';

/**
 * Waits for `work` (a component's subscribe) unless `signal` aborts first: then rejects at once
 * with `closed`, so a subscribe that hangs (a broker that cannot be reached) does not hold the
 * app's close for its whole deadline. `work` goes on; whoever started it closes what it makes.
 */
export function unlessStopped<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  const stopped = () => new HeraldError(CoreErrors.closed, `${what}: stopped while subscribing (the app is closing)`, { retriable: true, cause: signal.reason });
  if (signal.aborted) return Promise.reject(stopped());
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(stopped());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
