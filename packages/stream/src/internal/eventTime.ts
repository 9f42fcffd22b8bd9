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
 * The latest event time taken, ms: the last instant a Date holds (+275760-09-13). Records, results
 * and late records are published with their time as `occurredAt`; past this it is no date at all,
 * and the publish would fail (a RangeError, in whichever batch or punctuation closed the window).
 */
export const MAX_EVENT_TIME_MS = 8_640_000_000_000_000;

const LAST_DATE = new Date(MAX_EVENT_TIME_MS).toISOString();

/**
 * Checks an event time: an integer number of ms from the epoch to {@link MAX_EVENT_TIME_MS} and,
 * given `future`, at most `maxFutureSkewMs` ahead of the clock.
 */
export function checkEventTime(timestamp: unknown, event: Envelope, future?: FutureBound): number {
  if (!(typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp >= 0 && timestamp <= MAX_EVENT_TIME_MS)) {
    throw invalidEventTime(event, String(timestamp), `got ${String(timestamp)}; expected an integer number of ms from 0 (1970) to ${MAX_EVENT_TIME_MS} (${LAST_DATE})`);
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
 * Checks that a record's windows can be kept and emitted: the time of the last window holding
 * `timestamp` (its result's time: a time window's end - 1, a session's end) must be at most
 * {@link MAX_EVENT_TIME_MS}, or its result could not be published; and its close (a time window's
 * end + grace, a session's end + gap + grace) a safe integer, or it could not be stored or closed
 * exactly. Refused when the record arrives, it is dead-lettered alone; taken, it would fail every
 * batch and punctuation that closes its window.
 */
export function checkWindowTime(windows: Windows, timestamp: number, event: Envelope | undefined): void {
  const what = event ? `event ${event.id} (${event.type})` : 'a record';
  const details = { ...(event ? { eventId: event.id, eventType: event.type } : {}), timestamp: String(timestamp) };
  const last = windows.kind === 'time' ? Math.floor(timestamp / windows.advanceMs) * windows.advanceMs : timestamp;
  const bounds = windows.kind === 'time' ? { start: last, end: last + windows.sizeMs } : { start: last, end: last };
  const resultTime = windows.kind === 'time' ? bounds.end - 1 : bounds.end;
  if (resultTime > MAX_EVENT_TIME_MS) {
    throw new HeraldError(
      StreamErrors.invalidEventTime,
      `${what} has an event time too far in the future for its windows: ${timestamp}, whose window's result would be stamped ${resultTime}, after ${MAX_EVENT_TIME_MS} (${LAST_DATE}), the last instant a Date holds`,
      { details },
    );
  }
  const close = closeAt(windows, bounds);
  if (Number.isSafeInteger(close)) return;
  throw new HeraldError(
    StreamErrors.invalidEventTime,
    `${what} has an event time too far in the future for its windows: ${timestamp}, whose window would close at ${close}, beyond Number.MAX_SAFE_INTEGER`,
    { details },
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
