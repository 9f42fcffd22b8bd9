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

/** Longest piece of a value the client sent that a message quotes (as the core's `describeGiven` quotes). */
const QUOTED = 60;

/**
 * `value`, a value the client sent (a token's `kid` or `alg`), as a JSON string to quote in a
 * message: its first {@link QUOTED} characters, then `…`. The message goes back to the client and
 * into the log, so how much of it the client writes must not be the client's choice. A value that
 * is no string (a token header is any JSON) is quoted as its JSON text.
 */
export function quoted(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? typeof value);
  return JSON.stringify(text.length > QUOTED ? `${text.slice(0, QUOTED)}…` : text);
}
