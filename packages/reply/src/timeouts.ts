import { describeGiven, MAX_TIMER_MS } from '@herald/core';
import { invalid } from './checks.js';

/**
 * Throws `invalid-options` naming `name` unless `value` is a positive number (an integer where
 * `integer`) that a timer can wait: at most the core's `MAX_TIMER_MS`.
 */
export function checkTimeoutMs(value: unknown, check: { readonly name: string; readonly owner: string; readonly integer: boolean }): asserts value is number {
  const { name, owner } = check;
  if (!(typeof value === 'number' && (check.integer ? Number.isInteger(value) : Number.isFinite(value)) && value > 0)) {
    throw invalid(`${owner}: ${name} must be a positive ${check.integer ? 'integer' : 'number'} of ms, got ${describeGiven(value)}`);
  }
  if (value > MAX_TIMER_MS) throw invalid(`${owner}: ${name} must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${value}`);
}
