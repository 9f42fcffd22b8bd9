import { unstorableTextIssues, type ValidationIssue } from '@herald/core';

/**
 * Where `value` holds text the analytics store could not keep, in a string or a key, as issues (the
 * core's `unstorableTextIssues`: U+0000, which PostgreSQL's text and jsonb cannot hold, and a lone
 * UTF-16 surrogate, which jsonb refuses and DuckDB and UTF-8 make U+FFFD, so two different ids
 * would become one). The store would only find out when the event's window closes, and the record
 * closing that window would then fail in the event's place; so they are refused before anything is
 * accepted.
 */
export function textIssues(value: unknown, path: string): ValidationIssue[] {
  return unstorableTextIssues(value, { path, keyLabel: 'the key' });
}
