// Checks of the arguments a topology is built with (names, callbacks, durations, late handling):
// each refuses a wrong one at once with `invalid-options`, naming the step it was given to.
import { CoreErrors, HeraldError, type EventDefinition } from '@herald/core';

const NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** An aggregation's `late` option: records after their window closed must go somewhere. */
export function checkLate(aggregation: string, late: unknown): void {
  const l = late as { to?: EventDefinition; handler?: unknown; map?: unknown } | undefined;
  const ok = l && ((l.to && typeof l.to.parse === 'function' && (l.map === undefined || typeof l.map === 'function')) || typeof l.handler === 'function');
  if (!ok) throw invalid(`aggregate ${aggregation}: late must be { to: definition, map? } or { handler }: records arriving after their window closed are never dropped silently`);
}

/** A callback given to a step (`what`), returned as is. */
export function fn<F>(what: string, value: F): F {
  if (typeof value !== 'function') throw invalid(`${what}: give a function`);
  return value;
}

/** A topology, groupBy or aggregation name: it becomes part of topic, group and state names. */
export function checkName(what: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) throw invalid(`${what} "${String(value)}" must match ${NAME}`);
  return value;
}

/** A `createTopology` duration option: whole ms from 1 to `max`. */
export function wholeMs(what: string, value: number, max: number): number {
  if (!(Number.isSafeInteger(value) && value >= 1 && value <= max)) throw invalid(`createTopology: ${what} must be a whole number of ms from 1 to ${max}, got ${String(value)}`);
  return value;
}

/** The error a wrong argument gets: `invalid-options`, returned so that each caller throws it where it decides. */
export function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
