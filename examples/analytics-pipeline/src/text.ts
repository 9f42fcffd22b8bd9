import type { ValidationIssue } from '@herald/core';

/** At most this many text issues are listed for one value. */
const MAX_TEXT_ISSUES = 20;

/** A UTF-16 surrogate without its other half (TypeScript's ES2023 lib has no `String#isWellFormed`). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** `text` with each lone surrogate replaced by U+FFFD, as UTF-8 would have it (`String#toWellFormed`). */
export function wellFormed(text: string): string {
  return text.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\ufffd');
}

/** Why the analytics store could not keep `text` as it is; undefined when it can. */
function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain U+0000 (NUL)';
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate (half of a pair, such as an emoji cut in two)';
  return undefined;
}

/**
 * Where `value` holds text that is not well formed in a string or a key, as issues (at most
 * {@link MAX_TEXT_ISSUES}): U+0000 (NUL), which PostgreSQL's text and jsonb cannot hold, and a lone
 * UTF-16 surrogate, which is no Unicode text (jsonb refuses it, DuckDB and UTF-8 make it U+FFFD, so
 * two different ids would become one). The analytics store refuses both, and it would only find out
 * when the event's window closes: the record closing that window would then fail in the event's
 * place. So they are refused here, before anything is accepted. The walk is iterative: a value
 * nested thousands of levels deep is checked, not a stack overflow.
 */
export function textIssues(value: unknown, path: string): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  // what is left to visit, the next on top; a key's problem waits its turn, so issues come in document order
  const todo: ({ readonly node: unknown; readonly at: string } | { readonly key: string; readonly at: string })[] = [{ node: value, at: path }];
  while (todo.length > 0 && issues.length < MAX_TEXT_ISSUES) {
    const next = todo.pop()!;
    if ('key' in next) {
      issues.push({ path: next.at, message: `the key ${next.key}` });
      continue;
    }
    const { node, at } = next;
    if (typeof node === 'string') {
      const problem = textProblem(node);
      if (problem) issues.push({ path: at || '/', message: problem });
    } else if (typeof node === 'object' && node !== null) {
      const entries = Object.entries(node);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, inner] = entries[i]!;
        const inside = `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
        const problem = textProblem(key);
        todo.push(problem ? { key: problem, at: inside } : { node: inner, at: inside });
      }
    }
  }
  return issues;
}
