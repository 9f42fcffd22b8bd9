import { HeraldError } from '@herald/core';

/** Error code of the transient failures injected by {@link failureInjector}. */
export const INJECTED_FAILURE = 'injected-failure';

/**
 * Returns a function that throws a retriable error with probability `rate`. Handlers call it after
 * their writes, so a failure rolls the writes back with the outgoing events and the inbox mark and
 * the event is retried: transient failures change nothing but latency (seed 004's retries).
 */
export function failureInjector(rate: number, random: () => number = Math.random): (where: string) => void {
  return function maybeFail(where) {
    if (rate > 0 && random() < rate) throw new HeraldError(INJECTED_FAILURE, `injected transient failure in ${where}`, { retriable: true });
  };
}
