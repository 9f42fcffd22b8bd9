/** Headers as stored: NULL when there are none, so the common case costs no JSON work. */
export function headersText(headers: Readonly<Record<string, string>> | undefined): string | null {
  if (!headers) return null;
  for (const _ in headers) return JSON.stringify(headers);
  return null;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Headers as read back. */
export function parseHeaders(text: string | null): Readonly<Record<string, string>> {
  return text === null ? NO_HEADERS : (JSON.parse(text) as Record<string, string>);
}
