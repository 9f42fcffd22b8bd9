import { ErrorCodes, HeraldError } from '@herald/core';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `2025-06-01`, or with a time of day (seconds and fraction optional) and then `Z` or an offset.
 * As RFC 3339 allows: `t` or a space for `T`, `z` for `Z`; and `+0200` for `+02:00`, as logs write it.
 */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A point in time given on the command line: an ISO 8601 date-time with `Z` or an offset
 * (`2025-06-01T12:00:00Z`, `2025-06-01T14:00:00+02:00`, `2025-06-01 14:00:00+0200`), a date alone (UTC midnight), or a
 * duration ago (`90s`, `15m`, `2h`, `7d`). A time of day without a zone is refused rather than
 * read in the machine's zone, and a day or hour that does not exist (`2025-02-31`, `24:00`)
 * rather than rolled over into the next. Throws `invalid-options` naming `option`.
 */
export function parseTime(value: string, option: string, now: number = Date.now()): number {
  const text = value.trim();
  const relative = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!]!;
  const date = ISO_DATE.exec(text);
  if (!date) {
    throw new HeraldError(ErrorCodes.invalidOptions, `${option} must be an ISO date-time (2025-06-01T12:00:00Z) or a duration ago (90s, 15m, 2h, 7d), got "${value}"`);
  }
  const [, year, month, day, hour, minute, second, fraction, zone] = date;
  if (hour !== undefined && zone === undefined) {
    throw new HeraldError(ErrorCodes.invalidOptions, `${option} needs a zone with a time of day: add Z (UTC) or an offset such as +02:00, got "${value}"`);
  }
  const written = [year, month, day, hour ?? '0', minute ?? '0', second ?? '0'].map(Number) as [number, number, number, number, number, number];
  const [y, mo, d, h, mi, sec] = written;
  // Date.UTC and Date.parse roll an impossible field over (February 31 is March 3): what does not come back as written does not exist
  const wall = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  const back = [wall.getUTCFullYear(), wall.getUTCMonth() + 1, wall.getUTCDate(), wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds()];
  // in the one spelling Date.parse reads everywhere
  const offset = zone === undefined || /^[Zz]$/.test(zone) ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const parsed = hour === undefined ? Date.parse(`${year}-${month}-${day}T00:00:00Z`) : Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second ?? '00'}${fraction ?? ''}${offset}`);
  if (back.some((field, i) => field !== written[i]) || Number.isNaN(parsed)) {
    throw new HeraldError(ErrorCodes.invalidOptions, `${option} must be a date and time that exist, got "${value}" (no such day, hour or offset)`);
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
