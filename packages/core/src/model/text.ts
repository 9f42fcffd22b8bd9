import type { ValidationIssue } from './errorCodes.js';

/** A UTF-16 surrogate without its other half (TypeScript's ES2023 lib has no `String#isWellFormed`). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * Why no store could keep `text` as it is, or undefined when every one can. U+0000 is valid JSON
 * (`"\u0000"`) and SQLite and DuckDB keep it, but PostgreSQL's `text` and `jsonb` refuse it: taken
 * on one engine, it would fail later on another (a dead letter, the client already told
 * "accepted"). A lone surrogate (`"\ud800"`, half an emoji pair, as text cut at N UTF-16 units
 * leaves it) is no Unicode text: UTF-8 cannot encode it, so `jsonb` refuses it and other stores
 * and drivers keep U+FFFD instead (two different values become one).
 */
export function unstorableTextReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain U+0000 (NUL)';
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate';
  return undefined;
}

/** `text` with each lone surrogate replaced by U+FFFD, as UTF-8 would have it (`String#toWellFormed`). */
export function wellFormedText(text: string): string {
  return text.replace(LONE_SURROGATES, '\ufffd');
}

/** What {@link unstorableTextIssues} reports under. */
export interface UnstorableTextOptions {
  /** The JSON pointer of `value` itself. Default ''. */
  readonly path?: string;
  /** Put before the reason when a property name is at fault (`its name must not contain …`). Default `its name`. */
  readonly keyLabel?: string;
  /** Most issues listed. Default 20. */
  readonly max?: number;
}

/**
 * The strings of a JSON-like value, property names included, that no store could keep as they are
 * (see {@link unstorableTextReason}), each with its JSON pointer, in document order; empty when
 * there are none. The walk is iterative: a value nested thousands of levels deep is checked, not a
 * stack overflow.
 */
export function unstorableTextIssues(value: unknown, options: UnstorableTextOptions = {}): ValidationIssue[] {
  const { keyLabel = 'its name', max = 20 } = options;
  const issues: ValidationIssue[] = [];
  // what is left to visit, the next on top; a name's problem waits its turn, so issues come in document order
  const todo: ({ readonly node: unknown; readonly at: string } | { readonly reason: string; readonly at: string })[] = [{ node: value, at: options.path ?? '' }];
  while (todo.length > 0 && issues.length < max) {
    const next = todo.pop()!;
    if ('reason' in next) {
      issues.push({ path: next.at, message: `${keyLabel} ${next.reason}` });
      continue;
    }
    const { node, at } = next;
    if (typeof node === 'string') {
      const reason = unstorableTextReason(node);
      if (reason) issues.push({ path: at || '/', message: reason });
    } else if (typeof node === 'object' && node !== null) {
      const entries = Object.entries(node);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, inner] = entries[i]!;
        const inside = `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
        const reason = unstorableTextReason(key);
        todo.push(reason ? { reason, at: inside } : { node: inner, at: inside });
      }
    }
  }
  return issues;
}
