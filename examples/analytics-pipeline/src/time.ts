import { registerFormats } from '@herald/core';
import { FormatRegistry } from '@sinclair/typebox';

registerFormats();
/** RFC 3339's date-time, a real one: Date.parse alone takes "2026", a local time, and rolls 2026-02-30 over to March 2. */
const isDateTime = FormatRegistry.Get('date-time')!;

/** Second 60 of a minute, which RFC 3339 allows for a leap second. */
const LEAP_SECOND = /[Tt]\d{2}:\d{2}:60/;

/**
 * The epoch milliseconds of an RFC 3339 time (events, samples, query ranges), or why it has none:
 * not RFC 3339, before 1970, or a leap second. A leap second (`2016-12-31T23:59:60Z`) is valid
 * RFC 3339, but epoch milliseconds have no instant for it (`Date.parse` gives NaN): it is refused
 * saying so, rather than read as another instant the client did not send.
 */
export function epochMsOf(text: string): { readonly ms: number } | { readonly problem: string } {
  if (!isDateTime(text)) return { problem: 'must be an RFC 3339 time (2026-12-05T07:51:00Z)' };
  if (LEAP_SECOND.test(text)) return { problem: 'must not be a leap second (second 60): epoch milliseconds cannot represent it; send 59.999 of that minute instead' };
  const ms = Date.parse(text);
  if (!(ms >= 0)) return { problem: 'must be at or after 1970-01-01T00:00:00Z' };
  return { ms };
}
