/**
 * Headers as stored: JSON text, or NULL when there are none, so the common case costs no JSON
 * work. (PostgreSQL's tables declare `headers text NOT NULL` and store `'{}'` for none: its
 * statements write `COALESCE($n, '{}')`; {@link parseHeaders} reads both forms.)
 */
export function headersText(headers: Readonly<Record<string, string>> | undefined): string | null {
  if (!headers) return null;
  // the records of one publish.many call, and records read back in a row with the same headers,
  // share one frozen object (see parseHeaders): written again, it is the same text
  if (headers === lastWritten.headers) return lastWritten.text;
  let names = 0;
  for (const _ in headers) if (++names > 1) break;
  if (names === 0) return null;
  const traceparent = headers['traceparent'];
  // a traced event's headers are mostly its trace context alone: the same text JSON.stringify
  // writes, without its walk of the object
  const text = names === 1 && traceparent !== undefined && isPlain(traceparent) ? `${TRACEPARENT_ONLY}${traceparent}"}` : JSON.stringify(headers);
  if (Object.isFrozen(headers)) lastWritten = { headers, text };
  return text;
}

/** Whether JSON writes `text` as it is: no quote, backslash, control character or surrogate to escape. */
function isPlain(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

/** How the headers `{ traceparent }` alone begin as JSON. */
const TRACEPARENT_ONLY = '{"traceparent":"';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
let lastWritten: { readonly headers: object | undefined; readonly text: string | null } = { headers: undefined, text: null };
let lastRead: { readonly text: string | null; readonly headers: Readonly<Record<string, string>> } = { text: null, headers: NO_HEADERS };

/**
 * Headers as read back from a column written by {@link headersText} (or `'{}'`): frozen, and the
 * same object as the previous call's when the text is the same (a batch's records created
 * together carry one trace context), so a batch costs one parse.
 */
export function parseHeaders(text: string | null): Readonly<Record<string, string>> {
  if (text === null || text === '{}') return NO_HEADERS;
  if (text === lastRead.text) return lastRead.headers;
  const headers = Object.freeze(traceparentOnly(text) ?? (JSON.parse(text) as Record<string, string>));
  lastRead = { text, headers };
  return headers;
}

/** `{ traceparent }` from the text {@link headersText} writes for it alone, without a JSON parse; else undefined. */
function traceparentOnly(text: string): Record<string, string> | undefined {
  if (!text.startsWith(TRACEPARENT_ONLY) || !text.endsWith('"}')) return undefined;
  const value = text.slice(TRACEPARENT_ONLY.length, -2);
  return isPlain(value) ? { traceparent: value } : undefined;
}
