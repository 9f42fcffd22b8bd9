import { CoreErrors, defineErrorCodes, HeraldError } from '@herald/core';

/** The error codes of the analytics stores; check them with `error.code`. */
export const { specs: AnalyticsErrors, codes: AnalyticsErrorCodes } = defineErrorCodes({
  invalidQuery: {
    code: 'analytics-invalid-query',
    retriable: false,
    meaning: 'A query had a bad range, window, limit or name (from after to, a window that is not a positive whole number of milliseconds, a limit out of 1..1000, too many windows, or a user id, type or name that is empty, or holds U+0000 or a lone UTF-16 surrogate).',
    action: 'Fix the query; the message names the field.',
  },
  invalidRecord: {
    code: 'analytics-invalid-record',
    retriable: false,
    meaning: 'An appended event, metric sample or late event lacked an id, had an empty field, a time that is not a whole number of epoch milliseconds, a metric value that is not a finite number or lies beyond ±1e100 (`MAX_METRIC_VALUE`), a U+0000 (NUL) character or a lone UTF-16 surrogate (half an emoji pair) in a string or JSON key, properties or labels that cannot be written as JSON (a BigInt, a cycle), or a value PostgreSQL refused as data (SQLSTATE class 22). Nothing of that append was stored; it fails the same way however often it is retried.',
    action: 'Validate records before appending (the message names the record by index and the field, or gives what PostgreSQL reported).',
  },
  queryRefused: {
    code: 'analytics-query-refused',
    retriable: false,
    meaning: 'PostgreSQL refused to compute a query\'s answer from the stored data or the query\'s values (SQLSTATE class 22, a data exception: a number out of range, such as a metric summary over samples stored before values were bounded to ±MAX_METRIC_VALUE). The same query fails the same way however often it is retried.',
    action: 'Read what PostgreSQL reported (the message and the `sqlState` detail); narrow the query to leave the offending rows out, or delete or correct them.',
  },
  unavailable: {
    code: 'analytics-unavailable',
    retriable: true,
    meaning: 'The analytics database could not be opened or reached, or failed a statement for a reason other than the input or the stored data.',
    action: 'Check the path or connection settings; the cause says what the database reported. Appends are idempotent: retry them.',
  },
});

/** The error of a call made after `close()`: core's `closed`, not retriable (no retry can succeed). */
export function closedError(store: string): HeraldError {
  return new HeraldError(CoreErrors.closed, `${store}: the store is closed`);
}
