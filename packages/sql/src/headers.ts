/**
 * Headers as stored: JSON text, or NULL when there are none, so the common case costs no JSON
 * work. (PostgreSQL's tables declare `headers text NOT NULL` and store `'{}'` for none: its
 * statements write `COALESCE($n, '{}')`; {@link parseHeaders} reads both forms.)
 */
export function headersText(headers: Readonly<Record<string, string>> | undefined): string | null {
  if (!headers) return null;
  for (const _ in headers) return JSON.stringify(headers);
  return null;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Headers as read back from a column written by {@link headersText} (or `'{}'`). */
export function parseHeaders(text: string | null): Readonly<Record<string, string>> {
  return text === null || text === '{}' ? NO_HEADERS : (JSON.parse(text) as Record<string, string>);
}
