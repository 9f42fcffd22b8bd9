/**
 * `work`'s outcome, or a rejection with `signal`'s reason as soon as it aborts, whichever comes
 * first: the caller stops waiting for code that ignores its signal (a handler awaiting a call
 * without a deadline), which runs on; its late outcome is handled and dropped.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    work.then(resolve, reject);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}
