import { types } from 'node:util';
import { redactText } from './redact.js';

/** How {@link describeThrown} writes what was thrown. */
export interface DescribeThrownOptions {
  /**
   * An Error as `name: message`, as the first line of its stack reads (for a stack trace's line
   * when the Error has no stack); by default its message alone, for text saying what failed.
   */
  readonly named?: boolean;
  /**
   * A string as JSON too (`"issuer said no"`, quoted), so that the text is JSON for whatever was
   * thrown but an Error (a dead letter keeps a cause that is no Error so); by default a string is
   * written as it is.
   */
  readonly json?: boolean;
  /**
   * The most characters given back (a whole number, 1 or more): a longer text is cut there and
   * `…` added, for text that goes where size is limited (a span attribute, not a payload; an OTLP
   * batch has a size limit). No bound by default.
   */
  readonly maxLength?: number;
}

/** What is written when no form of the value can be read at all (a revoked Proxy). */
const UNPRINTABLE = 'an unprintable value was thrown';

/**
 * What was thrown, as text, for a log line, a span or a dead letter: an Error (of this realm or
 * another: a `vm` context's) as its message; a string as it is; any other value as JSON when it has
 * a JSON form (`{"code":"E42","status":503}`), else as `String()` writes it (a BigInt's digits, a
 * Symbol), else as its tag (`[object Object]`), else `"an unprintable value was thrown"`.
 * Credentials in it are written `"[redacted]"` (see {@link redactText}), before it is cut to
 * `maxLength`, so that a credential across the cut is not left half written.
 *
 * Never throws, whatever was thrown (JavaScript throws anything, and this runs where a failure is
 * already being handled): an object without a prototype (`String()` throws on it), a `toJSON`,
 * `toString` or getter that throws, a cycle, a BigInt or a revoked Proxy each end in the next form.
 *
 * @example
 * describeThrown(new Error('card declined'))                  // 'card declined'
 * describeThrown(Object.assign(Object.create(null), { code: 'E42' })) // '{"code":"E42"}'
 * describeThrown({ payload: 'x'.repeat(10_000) }, { maxLength: 2_048 }) // the first 2,048 characters, then '…'
 */
export function describeThrown(value: unknown, options: DescribeThrownOptions = {}): string {
  return cut(redactText(firstReadable(forms(value, options))), options.maxLength);
}

/** The ways `value` may be written, best first; each may throw or give nothing. */
function forms(value: unknown, { named = false, json = false }: DescribeThrownOptions): readonly (() => unknown)[] {
  const tag = () => Object.prototype.toString.call(value);
  if (isError(value)) return [named ? () => `${value.name}: ${value.message}` : () => `${value.message}`, tag];
  if (typeof value === 'string' && !json) return [() => value];
  // a plain object's JSON says what it holds, where String() says `[object Object]`
  if (json || (typeof value === 'object' && value !== null)) return [() => JSON.stringify(value), () => String(value), tag];
  return [() => String(value), tag];
}

function firstReadable(forms: readonly (() => unknown)[]): string {
  for (const form of forms) {
    try {
      const text = form();
      if (typeof text === 'string') return text;
    } catch {
      // this form cannot be read (a getter that throws, no prototype, a cycle): the next one
    }
  }
  return UNPRINTABLE;
}

/** An Error, of this realm or another; false for what cannot be asked (a revoked Proxy, whose prototype is unreadable). */
function isError(value: unknown): value is Error {
  if (types.isNativeError(value)) return true;
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** `text` cut to `max` characters and `…`, not between the two halves of a character outside the BMP. */
function cut(text: string, max: number | undefined): string {
  if (max === undefined || !(max >= 1) || text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}
