/**
 * The source of time for every component that waits or timestamps: retry backoff, relay polling,
 * commit intervals, timeouts, leases. Inject a manual clock in unit tests instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `callback` after `ms` unless the returned cancel function is called first. Cheaper than `sleep` on hot paths. */
  setTimer(ms: number, callback: () => void): () => void;
}

/**
 * The longest delay a timer can wait (about 24.8 days): Node's setTimeout, behind the system
 * clock's `setTimer` and `sleep`, runs any longer delay after 1 ms. Options that become timers
 * refuse more.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, callback) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(done, ms);
      function done() {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      function onAbort() {
        clearTimeout(timer);
        reject(signal!.reason);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};
