import { MAX_TIMER_MS, type Clock } from '../ports/clock.js';

/**
 * Whether `work` settles (resolved or rejected) within `ms` of `clock`. When it does not, `work`
 * goes on with nobody waiting for it; its rejection is taken care of here, never left unhandled.
 * A bound above {@link MAX_TIMER_MS} (which Node would fire after 1 ms) is no bound.
 */
export function settlesWithin(clock: Clock, work: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = work.then(
    () => true,
    () => true,
  );
  if (ms > MAX_TIMER_MS) return settled;
  return new Promise((resolve) => {
    const cancel = clock.setTimer(ms, () => resolve(false));
    void settled.then(() => {
      cancel();
      resolve(true);
    });
  });
}
