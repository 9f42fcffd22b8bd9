import { CoreErrors, HeraldError } from '@herald/core';

/**
 * The longest delay a timer can wait: Node's setTimeout (behind the system clock's `setTimer`)
 * runs any longer delay after 1 ms, so a larger timeout would fire at once. About 24.8 days.
 * Mirrors `MAX_TIMER_MS` of @herald/postgres's options, which the core does not export.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Throws `invalid-options` naming `name` unless `value` is a positive number (an integer where
 * `integer`) that a timer can wait: at most {@link MAX_TIMER_MS}.
 */
export function checkTimeoutMs(value: number, check: { readonly name: string; readonly owner: string; readonly integer: boolean }): void {
  const { name, owner } = check;
  if (!((check.integer ? Number.isInteger(value) : Number.isFinite(value)) && value > 0)) {
    throw new HeraldError(CoreErrors.invalidOptions, `${owner}: ${name} must be a positive ${check.integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  if (value > MAX_TIMER_MS) throw new HeraldError(CoreErrors.invalidOptions, `${owner}: ${name} must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${value}`);
}
