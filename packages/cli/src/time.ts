import { ErrorCodes, HeraldError } from '@herald/core';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time given on the command line: an ISO 8601 date-time (`2025-06-01T12:00:00Z`), or a
 * duration ago (`90s`, `15m`, `2h`, `7d`). Throws `invalid-options` naming `option`.
 */
export function parseTime(value: string, option: string, now: number = Date.now()): number {
  const relative = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!]!;
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(parsed)) {
    throw new HeraldError(ErrorCodes.invalidOptions, `${option} must be an ISO date-time (2025-06-01T12:00:00Z) or a duration ago (90s, 15m, 2h, 7d), got "${value}"`);
  }
  return parsed;
}

/** A whole number in [min, max] given for `option`, or `invalid-options`. */
export function parseCount(value: string, option: string, range: { min: number; max: number }): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new HeraldError(ErrorCodes.invalidOptions, `${option} must be a whole number in [${range.min}, ${range.max}], got "${value}"`);
  }
  return n;
}

/** `1h 02m`, `3m 12s`, `850 ms`: an age for people. */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}
