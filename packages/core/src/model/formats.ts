import { FormatRegistry } from '@sinclair/typebox';

// TypeBox checks a `format` only when the format is registered, and fails every value of an
// unregistered one ("Unknown format"). These are the JSON Schema formats event and request schemas
// use most; a format the application registered first keeps its own check.

/** RFC 3339 date-time with a time zone (`2026-12-05T10:00:00Z`, `...+02:00`), and a real date. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function realDate(year: string, month: string, day: string): boolean {
  const m = Number(month);
  const d = Number(day);
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(Number(year), m, 0)).getUTCDate();
}

function dateTime(value: string): boolean {
  const match = DATE_TIME.exec(value);
  if (!match) return false;
  const [, y, mo, d, h, mi, s, , , oh, om] = match;
  if (!realDate(y!, mo!, d!)) return false;
  // a leap second (60) is valid RFC 3339
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return false;
  return oh === undefined || (Number(oh) <= 23 && Number(om) <= 59);
}

function uri(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

const FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  'date-time': dateTime,
  date: (value) => {
    const match = DATE.exec(value);
    return match !== null && realDate(match[1]!, match[2]!, match[3]!);
  },
  uuid: (value) => UUID.test(value),
  email: (value) => value.length <= 254 && EMAIL.test(value),
  uri,
};

/** Registers the standard formats TypeBox leaves out, unless already registered. Idempotent. */
export function registerFormats(): void {
  for (const [name, check] of Object.entries(FORMATS)) if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check);
}
