import { HeraldError, type Envelope } from '@herald/core';
import { StreamErrors } from '../errors.js';

/** Checks an event time: an integer number of ms at or after the epoch. */
export function checkEventTime(timestamp: unknown, event: Envelope): number {
  if (typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp >= 0) return timestamp;
  throw new HeraldError(StreamErrors.invalidEventTime, `event ${event.id} (${event.type}) has no valid event time: got ${String(timestamp)}; expected an integer number of ms >= 0`, {
    details: { eventId: event.id, eventType: event.type, timestamp: String(timestamp) },
  });
}

/** The default event time: the envelope's `occurredAt`. */
export function occurredAt(event: Envelope): number {
  return Date.parse(event.occurredAt);
}
