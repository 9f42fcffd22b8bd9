import type { ValidationIssue } from '@herald/core';
import { MAX_ISSUES } from './validation.js';

/** A UTF-16 surrogate without its other half (TypeScript's ES2023 lib has no `String#isWellFormed`). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `text` cannot be taken, or undefined. U+0000 is valid JSON (`"\u0000"`) and SQLite keeps it,
 * but PostgreSQL's `text` and `jsonb` refuse it: taken at the edge, it would fail later, in a
 * handler on another engine (a dead letter, the client already told "accepted"). A lone surrogate
 * (`"\ud800"`) is no Unicode text: UTF-8 cannot encode it, so each store and broker would keep
 * something else (U+FFFD, or bytes that are not UTF-8).
 */
function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain U+0000 (NUL)';
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate';
  return undefined;
}

/**
 * The strings of a parsed JSON value (keys included) that no store could keep as sent, each with
 * its JSON pointer and why; empty when there are none. Stops at {@link MAX_ISSUES}.
 */
export function unstorableText(value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const visit = (node: unknown, path: string): void => {
    if (issues.length >= MAX_ISSUES) return;
    if (typeof node === 'string') {
      const problem = textProblem(node);
      if (problem) issues.push({ path: path || '/', message: problem });
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, `${path}/${i}`));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, inner] of Object.entries(node)) {
        const at = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
        const problem = textProblem(key);
        if (problem) issues.push({ path: at, message: `its name ${problem}` });
        else visit(inner, at);
      }
    }
  };
  visit(value, '');
  return issues;
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
