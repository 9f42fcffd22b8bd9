import type { ValidationIssue } from './errorCodes.js';

/**
 * `String#isWellFormed` and `#toWellFormed` (Node 20), which TypeScript's ES2023 lib does not
 * declare: native, no regular expression, and free on a string of one-byte characters (no
 * surrogate there), which most envelope fields are.
 */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

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
  if (!(text as unknown as WellFormedString).isWellFormed()) return 'must not contain a lone UTF-16 surrogate';
  return undefined;
}

/** `text` with each lone surrogate replaced by U+FFFD, as UTF-8 would have it. */
export function wellFormedText(text: string): string {
  return (text as unknown as WellFormedString).toWellFormed();
}

const LETTER_U = 0x75;

/**
 * Whether the escapes of `json`, JSON text JSON.parse takes, include one of text no store keeps
 * (see {@link unstorableTextReason}): U+0000, or a lone surrogate, which is a high one
 * (U+D800-U+DBFF) not right before a low one's escape, or a low one (U+DC00-U+DFFF) not right
 * after a high one's. Read escape by escape, so `\\ud800` (an escaped backslash, then text) is no
 * surrogate. Text decoded from UTF-8 holds either only as such an escape, so a value for which
 * this is false holds neither, and need not be walked.
 */
export function jsonEscapesUnstorableText(json: string): boolean {
  // where the escape of a high surrogate ended: its low half must start right there
  let pairEnd = -1;
  for (let at = json.indexOf('\\'); at !== -1; at = json.indexOf('\\', at)) {
    if (json.charCodeAt(at + 1) !== LETTER_U) {
      if (pairEnd !== -1) return true;
      at += 2;
      continue;
    }
    const first = json.charCodeAt(at + 2) | 0x20; // hex digits in lower case
    // most escapes are of other characters (\u00e9, \u0443): read whole only when they may matter
    if (pairEnd === -1 && first !== 0x64 /* d */ && !(first === 0x30 && json.startsWith('000', at + 3))) {
      at += 6;
      continue;
    }
    const unit = hex4(json, at + 2);
    if (unit === 0) return true;
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      if (at !== pairEnd) return true;
      pairEnd = -1;
    } else if (pairEnd !== -1) {
      return true;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      pairEnd = at + 6;
    }
    at += 6;
  }
  return pairEnd !== -1;
}

/** The four hex digits at `at` as a number (JSON.parse took them: they are hex). */
function hex4(text: string, at: number): number {
  let value = 0;
  for (let i = at; i < at + 4; i++) {
    const c = text.charCodeAt(i) | 0x20; // lower case
    value = value * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57);
  }
  return value;
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
