import { unstorableTextReason, wellFormedText } from '@herald/core';

/**
 * A string as the stores write it where a foreign record's content can reach: a `text` column, and
 * beside it a `bytea` column used only when the text column cannot hold the string as it is.
 * PostgreSQL's `text` refuses U+0000 (a Java `LongSerializer` key, a Confluent-framed value), and
 * node-postgres sends a lone UTF-16 surrogate as U+FFFD, silently another string. For such a
 * string `text` is a display form (each NUL and each lone surrogate shown as U+FFFD) and `bytes`
 * the string itself, exactly: generalized UTF-8 (WTF-8), that is UTF-8 in which a lone surrogate
 * takes the three bytes its code point would. A key read from Kafka as UTF-8 so gets back the
 * record's own bytes. For every other string `bytes` is null: a row is the same as before there
 * were bytes, and `(text, bytes)` tells two strings apart even when one's display form is the
 * other (`"a\0b"` is `("a\ufffdb", 61 00 62)`, `"a\ufffdb"` is `("a\ufffdb", null)`).
 */
export interface StoredText {
  readonly text: string;
  readonly bytes: Buffer | null;
}

/** Whether a `text` column holds `value` exactly: no U+0000 and no lone surrogate (the core's `unstorableTextReason`). */
export function isStorableText(value: string): boolean {
  return unstorableTextReason(value) === undefined;
}

/** `value` as a text column and, when that cannot hold it exactly, its bytes (see {@link StoredText}). */
export function toStoredText(value: string): StoredText {
  if (isStorableText(value)) return { text: value, bytes: null };
  return { text: wellFormedText(value).replaceAll('\u0000', '\ufffd'), bytes: toWtf8(value) };
}

/** The string a text column and its bytes column hold, as {@link toStoredText} wrote them. */
export function fromStoredText(text: string, bytes: Buffer | null): string {
  return bytes === null ? text : fromWtf8(bytes);
}

const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `value` in generalized UTF-8: Node's UTF-8 encoder, but a lone surrogate as its own three bytes, not those of U+FFFD. */
export function toWtf8(value: string): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (const match of value.matchAll(LONE_SURROGATES)) {
    const unit = value.charCodeAt(match.index);
    parts.push(Buffer.from(value.slice(from, match.index), 'utf8'), Buffer.of(0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)));
    from = match.index + 1;
  }
  if (from === 0) return Buffer.from(value, 'utf8');
  parts.push(Buffer.from(value.slice(from), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * The string generalized UTF-8 bytes written by {@link toWtf8} encode. A surrogate's three bytes
 * start with 0xED then 0xA0 to 0xBF (0xED then 0x80 to 0x9F is U+D000 to U+D7FF); 0xED never
 * continues another character, so every other run of bytes is plain UTF-8, decoded by Node.
 */
export function fromWtf8(bytes: Buffer): string {
  let text = '';
  let from = 0;
  for (let i = bytes.indexOf(0xed); i !== -1 && i + 2 < bytes.length; i = bytes.indexOf(0xed, i + 1)) {
    if (bytes[i + 1]! < 0xa0) continue;
    text += bytes.toString('utf8', from, i) + String.fromCharCode(0xd000 | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f));
    from = i + 3;
    i += 2;
  }
  return text + bytes.toString('utf8', from);
}
