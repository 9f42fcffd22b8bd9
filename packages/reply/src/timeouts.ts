import { CoreErrors, HeraldError, MAX_TIMER_MS } from '@herald/core';

/**
 * Throws `invalid-options` naming `name` unless `value` is a positive number (an integer where
 * `integer`) that a timer can wait: at most the core's `MAX_TIMER_MS`.
 */
export function checkTimeoutMs(value: number, check: { readonly name: string; readonly owner: string; readonly integer: boolean }): void {
  const { name, owner } = check;
  if (!((check.integer ? Number.isInteger(value) : Number.isFinite(value)) && value > 0)) {
    throw new HeraldError(CoreErrors.invalidOptions, `${owner}: ${name} must be a positive ${check.integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  if (value > MAX_TIMER_MS) throw new HeraldError(CoreErrors.invalidOptions, `${owner}: ${name} must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${value}`);
}
