import type { Clock } from '../ports/clock.js';

/** A clock that moves only when told to; for unit tests of anything that waits. */
export interface ManualClock extends Clock {
  /** Moves time forward, waking every sleeper whose deadline has passed, in deadline order. */
  advance(ms: number): Promise<void>;
  /** How many sleeps are pending (useful to wait until a component has started waiting). */
  pending(): number;
}

interface Sleeper {
  readonly at: number;
  readonly resolve: () => void;
}

/** Creates a {@link ManualClock} starting at `startMs`. */
export function createManualClock(startMs = 0): ManualClock {
  let now = startMs;
  let sleepers: Sleeper[] = [];
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const sleeper: Sleeper = {
          at: now + Math.max(0, ms),
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        function onAbort() {
          sleepers = sleepers.filter((s) => s !== sleeper);
          reject(signal!.reason);
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        sleepers.push(sleeper);
      });
    },
    setTimer(ms, callback) {
      const sleeper: Sleeper = { at: now + Math.max(0, ms), resolve: callback };
      sleepers.push(sleeper);
      return () => {
        sleepers = sleepers.filter((s) => s !== sleeper);
      };
    },
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        const due = sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now = Math.max(now, due.at);
        sleepers = sleepers.filter((s) => s !== due);
        due.resolve();
        // let the woken task run (and perhaps sleep again) before waking the next one
        for (let i = 0; i < 10; i++) await Promise.resolve();
      }
      now = target;
    },
    pending: () => sleepers.length,
  };
}
