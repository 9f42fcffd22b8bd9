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

/**
 * Credentials inside text, each with what replaces it:
 * - the password of a URL's user info (`postgres://herald:pw@db/herald`, `amqp://u:pw@mq`);
 * - a `Bearer` or `Basic` credential (an `Authorization` header's value, quoted in a message): 16
 *   characters or more, so prose ("a bearer token is required") is left alone;
 * - a JWT wherever it is (`header.payload.signature`, base64url, the header always `eyJ`);
 * - a `key=value` pair whose key names a credential (a query string's `access_token=`, a libpq
 *   connection string's `password=`).
 */
const IN_TEXT: readonly (readonly [RegExp, string])[] = [
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#@]+@/gi, `$1${REDACTED}@`],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/-]{16,}=*/gi, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b([A-Za-z_-]*(?:pass(?:wd|word)|pwd|secret|token|api[-_]?key))=[^\s&;,"']+/gi, `$1=${REDACTED}`],
];
/** One pass telling whether any of {@link IN_TEXT} may match: most text has none, and pays for this test only. */
const MAY_HOLD = /:\/\/[^\s/?#@]*:[^\s/?#@]*@|bearer\s|basic\s|eyJ|(?:pass(?:wd|word)|pwd|secret|token|api[-_]?key)=/i;

/**
 * `text` with the credentials in it written as `"[redacted]"`: the password of a URL's user info,
 * a `Bearer` or `Basic` credential of 16 characters or more, a JWT, and a `key=value` pair whose
 * key names a credential (`password=`, `secret=`, `access_token=`, `api_key=`). The same string
 * comes back when it holds none; most text pays for one regular expression test only. Loggers
 * apply it to messages; `jsonReadyFields` to every string among a line's fields.
 *
 * @example
 * redactText('cannot connect to postgres://herald:s3cr3t@db:5432/herald')
 * // 'cannot connect to postgres://herald:[redacted]@db:5432/herald'
 */
export function redactText(text: string): string {
  if (typeof text !== 'string' || !MAY_HOLD.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of IN_TEXT) out = out.replace(pattern, replacement);
  return out;
}
