import { defineErrorCodes } from '@herald/core';

/** The error codes the stream package adds to the core's; check them with `error.code`. */
export const { specs: StreamErrors, codes: StreamErrorCodes } = defineErrorCodes({
  invalidEventTime: {
    code: 'invalid-event-time',
    retriable: false,
    meaning:
      "An event's time (from the stream's timestamp extractor, or a repartition record) is not an integer number of milliseconds from 1970-01-01 to +275760-09-13 (8 640 000 000 000 000, the last instant a Date, and so an event's occurredAt, holds), is further ahead of the app's clock than the `maxFutureSkewMs` option of `from()` allows, or is so far in the future that its window's result would be stamped after that instant or its window's close (end + grace, or a session's end + gap + grace) is beyond Number.MAX_SAFE_INTEGER.",
    action: 'The event is dead-lettered with its envelope and counted in no window: fix the producer or the `timestamp` option of `from()`, then redrive it (an event ahead of the clock can be redriven once the clock has caught up).',
  },
  unserialisableValue: {
    code: 'unserialisable-value',
    retriable: false,
    meaning: 'An aggregate, or a value sent through a repartition topic, cannot be kept as JSON exactly: a BigInt, a cycle, a function, undefined, NaN or ±Infinity, or an object other than a plain object or array (a Set, a Map, a Date).',
    action: 'Keep aggregates and re-keyed values to JSON values (numbers, strings, booleans, null, arrays, plain objects); the event is dead-lettered for a redrive.',
  },
  invalidKey: {
    code: 'invalid-stream-key',
    retriable: false,
    meaning:
      "A groupBy's key function returned something other than a non-empty string, or a key on its way into an aggregation or a groupBy holds text the window stores cannot keep exactly: U+0000 (PostgreSQL refuses it) or a lone UTF-16 surrogate (read back as U+FFFD, so its windows would not be found again and keys differing only there would merge).",
    action: 'Fix the key function, or the producer of the event keys (every record needs a key, of well-formed text without U+0000); the event is dead-lettered for a redrive.',
  },
  resultAggregationUnknown: {
    code: 'result-aggregation-unknown',
    retriable: false,
    meaning:
      "A window result's dead letter was redriven, but the topology that reads it has no aggregation of the letter's name and window store any more (renamed or removed since the result was lettered), so the result has no downstream to be emitted through.",
    action: 'Put the aggregation back under its name to emit the result, or discard the letter (`herald dlq discard`) once its result is handled some other way.',
  },
  windowStoreMissing: {
    code: 'window-store-missing',
    retriable: false,
    meaning: 'A topology with windowed aggregations was installed on an app whose stores have no window state (`hasWindowStore` is false).',
    action: 'Use stores with window state: the SQLite and PostgreSQL stores, or memoryStores in tests.',
  },
});
