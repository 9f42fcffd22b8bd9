/**
 * Credentials kept out of log lines. Lines end up in log stores many people read (Loki, ELK), and
 * they carry what handlers and clients put in them: an HTTP client's error holds the request's
 * `Authorization` header, a URL a token in its query or a password in its user info, a driver's
 * message the connection string. What is written instead is {@link REDACTED}.
 */

/** What a credential is written as. */
export const REDACTED = '[redacted]';

/**
 * Field names whose value is a credential, whatever it is: `password`, `dbPassword`, `secret`,
 * `clientSecret`, `token`, `accessToken`, `apiKey`, `x-api-key`, `authorization`, `cookie`,
 * `set-cookie`, `credentials`, `privateKey` (the name's end, in any case, `-` and `_` allowed).
 * `tokensUsed` or `keyId` are not: only the end of the name counts.
 */
const SECRET_NAME = /(?:pass(?:wd|word)|secret|token|api[-_]?key|authori[sz]ation|cookie|credentials?|private[-_]?key)$/i;

/** Whether a field named `key` holds a credential (see {@link SECRET_NAME}). */
export function isSecretName(key: string): boolean {
  return SECRET_NAME.test(key);
}

/** Key names in text (`key=value`, `key: value`, `"key": "value"`) whose value is a credential: as {@link SECRET_NAME}, and `pwd`, `signature`, `sig` (a SAS token's). */
const SECRET_KEY = /(?:pass(?:wd|word)|pwd|secret|token|api[-_]?key|authori[sz]ation|cookie|credentials?|private[-_]?key|signature)$|^sig$/i;

/** Whether a `Basic` credential's token is base64 rather than a word of prose: a digit, `+`, `/` or `=` in it, or both cases after its first letter. */
const looksEncoded = (token: string): boolean => /[0-9+/=]/.test(token) || (/[a-z]/.test(token.slice(1)) && /[A-Z]/.test(token.slice(1)));

/** A replacement keeping the key (`$1`) and its separator (`$2`) when the key names a credential. */
const keyed = (match: string, key: string, separator: string): string => (SECRET_KEY.test(key) ? `${key}${separator}${REDACTED}` : match);

/**
 * Credentials inside text, each with what replaces it. Every pattern runs in time linear in the
 * text, whatever it holds (text comes from outside: a request's URL is logged for every request,
 * so a pattern that backtracks would let one request stall the process): a repeated part never
 * overlaps the part after it, and a pattern starts only where a run of its characters starts.
 * - the password of a URL's user info (`postgres://herald:pw@db/herald`, `amqp://u:pw@mq`);
 * - a `Bearer` credential (an `Authorization` header's value, quoted in a message) of 16
 *   characters or more, so prose ("a bearer token is required") is left alone, and a `Basic` one
 *   (base64 of `user:password`: with a digit, `+`, `/` or `=` in it, or both cases after its first
 *   letter, as prose is not);
 * - a JWT wherever it is (`header.payload.signature`, base64url, the header always `eyJ`);
 * - a value whose key names a credential: `key=value` (a query string's `access_token=`, a libpq
 *   connection string's `password=`, a presigned URL's `X-Amz-Signature=`), `key: value` (a header
 *   line, `x-api-key: ...`) and `"key": "value"` (JSON text).
 */
const IN_TEXT: readonly (readonly [RegExp, string | ((match: string, ...groups: string[]) => string)])[] = [
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#@]+@/gi, `$1${REDACTED}@`],
  // a header line naming credentials: whatever its scheme (Bearer, Basic, Token, Digest...), the rest of the line
  [/(?<![A-Za-z0-9_-])((?:proxy-)?authori[sz]ation|(?:set-)?cookie)(:[ \t]*)((?:bearer|basic|token|digest|negotiate)[ \t]+)?[^\s][^\r\n]*/gi, `$1$2$3${REDACTED}`],
  [/\b(bearer)\s+[A-Za-z0-9._~+/-]{16,}=*/gi, `$1 ${REDACTED}`],
  [/\b(basic)(\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/gi, (match, word, space, token) => (looksEncoded(token!) ? `${word}${space}${REDACTED}` : match)],
  // from the start of a run only: `\b` would start again at every `-eyJ` of one long run
  [/(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // a value quoted ('...' or "...", as libpq and util.inspect write them) or bare
  [/(?<![A-Za-z0-9_-])([A-Za-z0-9_-]+)([ \t]*=[ \t]*)(?:'[^'\n]*'|"(?:[^"\\\n]|\\.)*"|[^\s&;,"']+)/g, keyed],
  // a header line's value naming its scheme (`Authorization: Bearer ...`) is the patterns above's
  [/(?<![A-Za-z0-9_-])([A-Za-z0-9_-]+)(:[ \t]*)(?!\/\/|\[redacted\]|(?:bearer|basic|token|digest|negotiate)\s)(?:'[^'\n]*'|"(?:[^"\\\n]|\\.)*"|[^\s"',;]+)/gi, keyed],
  [/"([^"\\]{1,100})"(\s*:\s*)"(?:[^"\\]|\\.)*"/g, (match, key, separator) => (SECRET_KEY.test(key!) ? `"${key}"${separator}"${REDACTED}"` : match)],
];
/**
 * One pass telling whether any of {@link IN_TEXT} may match: most text has none, and pays for this
 * test only. Linear as they are.
 */
const MAY_HOLD = /:\/\/[^\s/?#@:]*:[^\s/?#@]*@|bearer\s|basic\s|eyJ|(?:pass(?:wd|word)|pwd|secret|token|api[-_]?key|authori[sz]ation|cookie|credentials?|private[-_]?key|signature|sig)"?[ \t]*[=:]/i;

/**
 * `text` with the credentials in it written as `"[redacted]"`: the password of a URL's user info,
 * the rest of an `Authorization` or `Cookie` line after its scheme, a `Bearer` credential of 16
 * characters or more and a base64 `Basic` one, a JWT, and a value, bare or quoted, whose key names
 * a credential (`password=`, `access_token=`, `X-Amz-Signature=`, `x-api-key: `, `password: '...'`,
 * `"secret": "..."`). The same string comes back when it holds none; most text pays for one
 * regular expression test only, and any text for a few passes linear in its length. Loggers
 * apply it to messages; `jsonReadyFields` to every string among a line's fields.
 *
 * @example
 * redactText('cannot connect to postgres://herald:s3cr3t@db:5432/herald')
 * // 'cannot connect to postgres://herald:[redacted]@db:5432/herald'
 */
export function redactText(text: string): string {
  if (typeof text !== 'string' || !MAY_HOLD.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of IN_TEXT) out = out.replace(pattern, replacement as (match: string, ...groups: string[]) => string);
  return out;
}
