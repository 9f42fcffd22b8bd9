import { HeraldError, type Envelope } from '@herald/core';
import { StreamErrors } from '../errors.js';
import { closeAt, type Windows } from '../windows.js';

/** How far ahead of the clock a source takes event times (`FromOptions.maxFutureSkewMs`), with the clock's reading. */
export interface FutureBound {
  /** The app's clock when the batch began, ms. */
  readonly now: number;
  readonly maxFutureSkewMs: number;
}

/**
 * Checks an event time: an integer number of ms at or after the epoch and, given `future`, at most
 * `maxFutureSkewMs` ahead of the clock.
 */
export function checkEventTime(timestamp: unknown, event: Envelope, future?: FutureBound): number {
  if (!(typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp >= 0)) {
    throw invalidEventTime(event, String(timestamp), `got ${String(timestamp)}; expected an integer number of ms >= 0`);
  }
  if (future && timestamp - future.now > future.maxFutureSkewMs) {
    throw invalidEventTime(
      event,
      String(timestamp),
      `${timestamp} is ${timestamp - future.now} ms ahead of the clock (${future.now}), more than maxFutureSkewMs (${future.maxFutureSkewMs}): taken, it would move stream time ahead for good and make every later record late`,
    );
  }
  return timestamp;
}

/**
 * Checks that a record's windows can be kept: the close of the last window holding `timestamp`
 * (a time window's end + grace, a session's end + gap + grace) must be a safe integer, or the
 * window could not be stored or closed exactly.
 */
export function checkWindowTime(windows: Windows, timestamp: number, event: Envelope | undefined): void {
  const last = windows.kind === 'time' ? Math.floor(timestamp / windows.advanceMs) * windows.advanceMs : timestamp;
  const close = closeAt(windows, windows.kind === 'time' ? { start: last, end: last + windows.sizeMs } : { start: last, end: last });
  if (Number.isSafeInteger(close)) return;
  const what = event ? `event ${event.id} (${event.type})` : 'a record';
  throw new HeraldError(
    StreamErrors.invalidEventTime,
    `${what} has an event time too far in the future for its windows: ${timestamp}, whose window would close at ${close}, beyond Number.MAX_SAFE_INTEGER`,
    { details: { ...(event ? { eventId: event.id, eventType: event.type } : {}), timestamp: String(timestamp) } },
  );
}

/** The default event time: the envelope's `occurredAt`. */
export function occurredAt(event: Envelope): number {
  return Date.parse(event.occurredAt);
}

function invalidEventTime(event: Envelope, timestamp: string, why: string): HeraldError {
  return new HeraldError(StreamErrors.invalidEventTime, `event ${event.id} (${event.type}) has no valid event time: ${why}`, {
    details: { eventId: event.id, eventType: event.type, timestamp },
  });
}
