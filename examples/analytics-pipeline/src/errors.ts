import { defineErrorCodes } from '@herald/core';

/**
 * The example's own error codes: why the consumer dead-letters an event, and the query API's
 * domain errors. HTTP maps them to problems (see `services/analytics.ts`), gRPC to status codes
 * (see `grpc/status.ts`).
 */
export const { specs: PipelineErrors, codes: PipelineErrorCodes } = defineErrorCodes({
  unknownEventType: {
    code: 'unknown-analytics-type',
    retriable: false,
    meaning: 'The consumer does not know the event type (it is not in EVENT_TYPES); the event is dead-lettered.',
    action: 'Send one of the documented types, or add the type to the catalogue and redrive the dead letters.',
  },
  invalidProperties: {
    code: 'invalid-analytics-properties',
    retriable: false,
    meaning: "The event's properties do not match its type's schema; the event is dead-lettered with the offending fields.",
    action: 'Fix the sender; redrive the dead letters once the catalogue accepts them.',
  },
  invalidText: {
    code: 'invalid-analytics-text',
    retriable: false,
    meaning:
      "The event holds text the analytics store cannot keep: U+0000 (NUL) or a lone UTF-16 surrogate (half an emoji pair) in its id, user id or type, or in a key or string of its properties. The producer refuses such events; this one reached the log another way (another writer, an older producer). It is dead-lettered with the offending fields; taken, it would fail the append of its whole minute when the minute closed.",
    action: 'Fix the writer that sent it; the dead letter cannot be redriven as it is.',
  },
  userNotFound: {
    code: 'user-not-found',
    retriable: false,
    meaning: 'No event of this user is in a closed window yet (404).',
    action: 'Check the user id; events appear once their minute closed.',
  },
  invalidQuery: {
    code: 'invalid-query',
    retriable: false,
    meaning: 'A query parameter is malformed: a time that is not RFC 3339, `from` not before `to`, an unknown window (422).',
    action: 'Send RFC 3339 times with from < to and window 1m, 5m or 1h.',
  },
});
