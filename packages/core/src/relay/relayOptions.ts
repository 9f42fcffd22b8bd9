// Validation of the relay's numeric options, done once at construction (see `createRelay` in relay.ts).
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { MAX_TIMER_MS } from '../ports/clock.js';

/** A count such as `batchSize`: a whole number of at least 1. */
export function positiveInteger(value: number, name: string): number {
  if (!(Number.isInteger(value) && value > 0)) invalid(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** A positive duration that a timer can wait: at most MAX_TIMER_MS (Node runs a longer one after 1 ms). */
export function duration(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0)) invalid(`${name} must be a positive number, got ${value}`);
  if (value > MAX_TIMER_MS) invalid(`${name} must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${value}`);
  return value;
}

function invalid(message: string): never {
  throw new HeraldError(CoreErrors.invalidOptions, `relay: ${message}`);
}
