import { unstorableTextIssues, type ValidationIssue } from '@herald/core';
import { MAX_ISSUES } from './validation.js';

/**
 * The strings of a parsed JSON body (property names included) that no store could keep as sent
 * (the core's `unstorableTextIssues`), each with its JSON pointer; at most {@link MAX_ISSUES}.
 */
export function unstorableText(value: unknown): ValidationIssue[] {
  return unstorableTextIssues(value, { max: MAX_ISSUES });
}

/** Whether a request target (path and query, still percent-encoded) holds an encoded U+0000. */
export function urlHasNul(url: string): boolean {
  return url.includes('%00');
}

/**
 * Whether a request target's query string holds a percent-encoding that is not UTF-8 (`%ED%A0%BD`,
 * a lone `%FF`): the query parser would read it as U+FFFD, silently another value. The router
 * refuses such a path itself.
 */
export function queryNotUtf8(url: string): boolean {
  const start = url.indexOf('?');
  if (start < 0 || !url.includes('%', start)) return false;
  try {
    decodeURIComponent(url.slice(start + 1));
    return false;
  } catch {
    return true;
  }
}
