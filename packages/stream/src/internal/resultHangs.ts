import type { WindowResult } from '../types.js';
import type { AggregateNode } from './graph.js';

/** How many results a member tracks as hung at once: past it, the longest tracked is forgotten. */
const MAX_TRACKED = 1_000;

/**
 * The window results whose emission was in flight when their attempt reached its deadline (a
 * downstream that hangs, ignoring its signal), per group and partition, in this process. A result
 * that does so `maxAttempts` times in a row is dead-lettered (the attempt's deadline rolled its run
 * back, so the letter is written on its own), and a later run passes over it once its letter is
 * stored: the window closes without it, as it would after a failure. Kept in memory, as retry
 * state is: another member (after a rebalance) counts again from one, and its letter of a final
 * result is the one already stored (see `resultFailures.ts`).
 */
export interface ResultHangs {
  /** Notes that the attempt reached its deadline emitting this result; the number of attempts that did so in a row. */
  timedOut(at: HungResult): number;
  /** Tracks the writing of this result's letter: a later run waits for it, then passes over the result. */
  lettering(at: HungResult, stored: Promise<void>): void;
  /** The writing of this result's letter, once its attempts are used up; undefined while it is emitted as any other. */
  letter(at: HungResult): Promise<void> | undefined;
  /** The result was emitted: its count starts again. */
  emitted(at: HungResult): void;
}

/** A window result where it was emitted. */
export interface HungResult {
  readonly group: string;
  readonly partition: number;
  readonly node: AggregateNode;
  readonly result: WindowResult<unknown>;
}

export function createResultHangs(): ResultHangs {
  const counts = new Map<string, number>();
  const letters = new Map<string, Promise<void>>();

  function track<T>(map: Map<string, T>, id: string, value: T): void {
    map.delete(id);
    map.set(id, value);
    if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
  }

  return {
    timedOut(at) {
      const id = idOf(at);
      const count = (counts.get(id) ?? 0) + 1;
      track(counts, id, count);
      return count;
    },
    lettering(at, stored) {
      const id = idOf(at);
      counts.delete(id);
      track(letters, id, stored);
      // a letter that could not be stored is not passed over: the result is emitted (and counted) again
      stored.catch(() => {
        if (letters.get(id) === stored) letters.delete(id);
      });
    },
    // nothing tracked (the common case): no id is built
    letter: (at) => (letters.size === 0 ? undefined : letters.get(idOf(at))),
    emitted(at) {
      if (counts.size > 0) counts.delete(idOf(at));
    },
  };
}

/** The same result of the same window: an update's value is part of it (a later update is another result). */
function idOf({ group, partition, node, result }: HungResult): string {
  return JSON.stringify([group, partition, node.store, result.key, result.start, result.end, result.kind, result.value]);
}
