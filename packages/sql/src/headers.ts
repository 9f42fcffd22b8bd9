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
  for (const _ in headers) {
    const text = JSON.stringify(headers);
    if (Object.isFrozen(headers)) lastWritten = { headers, text };
    return text;
  }
  return null;
}

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
  const headers = Object.freeze(JSON.parse(text) as Record<string, string>);
  lastRead = { text, headers };
  return headers;
}
