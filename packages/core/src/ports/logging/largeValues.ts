/**
 * Bounds on what one field of a log line may take. Log backends cap a line (Loki and CloudWatch at
 * 256 KB, Docker's json-file driver at 16 KB) and cut or drop a longer one, so a field that is a
 * whole file, a request body or a result set would lose the line it is in; a `Buffer` written as
 * JSON (`{"type":"Buffer","data":[...]}`) takes three to four times its size.
 */
import { redactText } from './redact.js';

/** The characters of a string written before it is cut: about 32 KB. */
export const MAX_TEXT_CHARS = 32 * 1024;
/** The items of an array written before it is cut. */
export const MAX_ITEMS = 1_000;

/** What binary data (a `Buffer`, a typed array, a `DataView`, an `ArrayBuffer`) is written as: `[binary: N bytes]`, never its bytes. */
export function binaryNote(value: object): string | undefined {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)) {
    return `[binary: ${(value as { byteLength: number }).byteLength} bytes]`;
  }
  return undefined;
}

/**
 * How far past the cut a string is redacted: a credential that starts before the cut is seen whole
 * (a JWT, a `Bearer` value, a URL up to its `@`) unless it is longer than this. Only that much is
 * redacted, not all of a 5 MB string (a pass over it stalls the process for half a second).
 */
const LOOKAHEAD_CHARS = 8 * 1024;

/**
 * `text` redacted (see {@link redactText}) and cut to {@link MAX_TEXT_CHARS}, with
 * `…[N more characters left out]` after it; only redacted when shorter. A cut never splits a
 * surrogate pair.
 */
export function redactedCut(text: string): string {
  if (text.length <= MAX_TEXT_CHARS) return redactText(text);
  const read = Math.min(text.length, MAX_TEXT_CHARS + LOOKAHEAD_CHARS);
  const head = redactText(text.slice(0, read));
  if (read === text.length && head.length <= MAX_TEXT_CHARS) return head;
  let end = Math.min(head.length, MAX_TEXT_CHARS);
  const last = head.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${head.slice(0, end)}…[${head.length - end + text.length - read} more characters left out]`;
}

/** What is written after the first {@link MAX_ITEMS} items of a longer array: `[N more items left out]`. */
export function itemsLeftOut(length: number): string {
  return `[${length - MAX_ITEMS} more items left out]`;
}
