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
 * `set-cookie`, `credentials`, `privateKey`, `secretKey`, `secretAccessKey` (AWS's), `accessKey`,
 * `AccountKey` (Azure's) (the name's end, in any case, `-` and `_` allowed). `tokensUsed`,
 * `accessKeyId` or `keyId` are not: only the end of the name counts.
 *
 * A field named just `key` is not either, on purpose: it is an event's partition key, written on
 * the lines of every delivery, retry, dead letter and relay failure (`{ topic, key }`), and a
 * line without it cannot be tied to the order or customer it is about. A credential under a name
 * that says nothing of whose key it is has to be logged under one that does (`apiKey`); in text,
 * a query's `key=` parameter is redacted (see {@link IN_TEXT}), a bare `key=` elsewhere is not.
 */
const SECRET_NAME = /(?:pass(?:wd|word)|secret|token|(?:api|private|secret|access|account)[-_]?key|authori[sz]ation|cookie|credentials?)$/i;

/** Whether a field named `key` holds a credential (see {@link SECRET_NAME}). */
export function isSecretName(key: string): boolean {
  return SECRET_NAME.test(key);
}

/**
 * How key names in text whose value is a credential end: as {@link SECRET_NAME}'s, and `pwd`,
 * `signature`, and `AccountKey`, `SharedAccessKey` (Azure's connection strings),
 * `secret_access_key` (AWS's).
 */
const SECRET_KEY_END = 'pass(?:wd|word)|pwd|secret|token|(?:api|access|account)[-_]?key|authori[sz]ation|cookie|credentials?|private[-_]?key|signature';
/** Key names in text (`key=value`, `key: value`, `"key": "value"`) whose value is a credential: {@link SECRET_KEY_END}, and `sig` (a SAS token's). */
const SECRET_KEY = new RegExp(`(?:${SECRET_KEY_END})$|^sig$`, 'i');

/**
 * A credential's key and what separates it from its value (`Password = `), for the patterns that
 * hold only for credentials; tried only where a run of key characters starts, as all of them are.
 */
const CREDENTIAL_PAIR = String.raw`(?<![A-Za-z0-9_-])([A-Za-z0-9_-]*(?:${SECRET_KEY_END}))([ \t]*=[ \t]*)`;

/** Whether a `Basic` credential's token is base64 rather than a word of prose: a digit, `+`, `/` or `=` in it, or both cases after its first letter. */
const looksEncoded = (token: string): boolean => /[0-9+/=]/.test(token) || (/[a-z]/.test(token.slice(1)) && /[A-Z]/.test(token.slice(1)));

/** A replacement keeping the key (`$1`) and its separator (`$2`) when the key names a credential. */
const keyed = (match: string, key: string, separator: string): string => (SECRET_KEY.test(key) ? `${key}${separator}${REDACTED}` : match);

/**
 * Credentials inside text, each with what replaces it. Every pattern runs in time linear in the
 * text, whatever it holds (text comes from outside: a request's URL is logged for every request,
 * so a pattern that backtracks would let one request stall the process): a repeated part never
 * overlaps the part after it, and a pattern starts only where a run of its characters starts.
 * - the password of a URL's user info (`postgres://herald:pw@db/herald`, `amqp://u:pw@mq`), to the
 *   last `@` before the host, as URL parsers split it (`postgres://app:p@ss@db`);
 * - a `Bearer` credential (an `Authorization` header's value, quoted in a message) of 16
 *   characters or more, so prose ("a bearer token is required") is left alone, and a `Basic` one
 *   (base64 of `user:password`: with a digit, `+`, `/` or `=` in it, or both cases after its first
 *   letter, as prose is not);
 * - a JWT (`header.payload.signature`, base64url, the header always `eyJ`) at the start of a word,
 *   after a `-` or `_` inside one (`x-eyJ...`, a prefixed header value), or after a percent-encoded
 *   character (`%3DeyJ...`, a URL inside a query string), the prefix kept;
 * - a value whose key names a credential: `key=value` (a query string's `access_token=`, a
 *   presigned URL's `X-Amz-Signature=`, a query's `key=`, a connection string's password as libpq writes it,
 *   `password='...'` or bare with `;` in it, and as ODBC and ADO.NET write it, braced
 *   `PWD={...}`, quoted, or running to the `;` that ends the pair, spaces and all, after a `;`),
 *   `key: value` (a header line, `x-api-key: ...`) and `"key": "value"` (JSON text).
 * A `;` or `,` ends a bare value only where a `key=` (or nothing) follows it: which format a
 * string is in cannot always be told (libpq's `password=hun;ter2` is one value, ODBC's
 * `Password=hun;Database=d` two), and a credential is better redacted with some text after it
 * than half written.
 */
const IN_TEXT: readonly (readonly [RegExp, string | ((match: string, ...groups: string[]) => string)])[] = [
  // user info ends at the authority's LAST `@`, as URL parsers split it: a raw `@` in a password
  // (`app:p@ss@db`) is part of it; the run is matched greedily to the authority's end and given
  // back to its last `@` once, and runs of two matches never overlap (each ends at the `/` of `://`)
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s/?#:]*:)[^\s/?#]+@/gi, `$1${REDACTED}@`],
  // a header line naming credentials: whatever its scheme (Bearer, Basic, Token, Digest...), the rest of the line
  [/(?<![A-Za-z0-9_-])((?:proxy-)?authori[sz]ation|(?:set-)?cookie)(:[ \t]*)((?:bearer|basic|token|digest|negotiate)[ \t]+)?[^\s][^\r\n]*/gi, `$1$2$3${REDACTED}`],
  [/\b(bearer)\s+[A-Za-z0-9._~+/-]{16,}=*/gi, `$1 ${REDACTED}`],
  [/\b(basic)(\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/gi, (match, word, space, token) => (looksEncoded(token!) ? `${word}${space}${REDACTED}` : match)],
  // tried from the start of a run of base64url characters only, the prefix ($1) up to its first
  // `-eyJ` or `_eyJ` taken whole (no backtracking into it): `\b` would start again at every `-eyJ`
  // of one long run, a lazy prefix try every one of them
  [/(?<![A-Za-z0-9_-])((?:(?![-_]eyJ)[A-Za-z0-9_-])*[-_](?=eyJ)|(?<=%)[0-9A-Fa-f]{2}(?=eyJ))?eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, `$1${REDACTED}`],
  // ODBC's braced value (`PWD={hun;ter2}`, `}}` a `}` in it), to its end or the line's
  [new RegExp(String.raw`${CREDENTIAL_PAIR}\{(?:[^}\n]|\}\})*(?:\}|(?=\n)|$)`, 'gi'), `$1$2${REDACTED}`],
  // a pair after a `;` (ODBC, ADO.NET): the value, spaces and all, runs to a `;` that a `Key=`
  // follows (their keys have spaces: `User Id`), unless quoted (a quote doubled inside); the
  // spaces after the `;` are matched, not looked behind for, which each of many would do over all
  [new RegExp(String.raw`(?<=;)([ \t]*)${CREDENTIAL_PAIR}(?:"(?:[^"\n]|"")*(?:"|(?=\n)|$)|'(?:[^'\n]|'')*(?:'|(?=\n)|$)|(?:[^;\n]|;(?![ \t]*[A-Za-z0-9_.-][A-Za-z0-9 _.-]*=|[\s;]|$))+)`, 'gi'), `$1$2$3${REDACTED}`],
  // a query parameter named just `key` (Google's APIs: `?key=AIza...`): only in a query, where a
  // bare `key=` elsewhere is prose (`partition key=order-1`); each match ends where the next may start
  [/(?<=[?&])(key=)[^\s&#]+/gi, `$1${REDACTED}`],
  // any pair: a value quoted ('...' or "...": libpq's and util.inspect's, with `\` escapes, or
  // ADO.NET's, a quote doubled inside) or bare (libpq's `\` escapes too), on over a `;` or `,` that
  // no `key=` follows: libpq's `password=hun;ter2 host=db` holds one value, `a=1,b=2` two
  [/(?<![A-Za-z0-9_-])([A-Za-z0-9_-]+)([ \t]*=[ \t]*)(?:'(?:[^'\\\n]|\\.|'')*'|"(?:[^"\\\n]|\\.|"")*"|(?:[^\s\\&;,"']|\\.|[;,](?![ \t]*[A-Za-z0-9_.-]+[ \t]*=|[\s;,]|$))+)/g, keyed],
  // a header line's value naming its scheme (`Authorization: Bearer ...`) is the patterns above's
  [/(?<![A-Za-z0-9_-])([A-Za-z0-9_-]+)(:[ \t]*)(?!\/\/|\[redacted\]|(?:bearer|basic|token|digest|negotiate)\s)(?:'[^'\n]*'|"(?:[^"\\\n]|\\.)*"|[^\s"',;]+)/gi, keyed],
  [/"([^"\\]{1,100})"(\s*:\s*)"(?:[^"\\]|\\.)*"/g, (match, key, separator) => (SECRET_KEY.test(key!) ? `"${key}"${separator}"${REDACTED}"` : match)],
];
/**
 * One pass telling whether any of {@link IN_TEXT} may match: most text has none, and pays for this
 * test only. Linear as they are.
 */
const MAY_HOLD = new RegExp(`://[^\\s/?#:]*:[^\\s/?#]*@|bearer\\s|basic\\s|eyJ|[?&]key=|(?:${SECRET_KEY_END}|sig)"?[ \\t]*[=:]`, 'i');

/**
 * `text` with the credentials in it written as `"[redacted]"`: the password of a URL's user info,
 * the rest of an `Authorization` or `Cookie` line after its scheme, a `Bearer` credential of 16
 * characters or more and a base64 `Basic` one, a JWT, and a value, bare, quoted or braced, whose
 * key names a credential (`password=`, `access_token=`, `X-Amz-Signature=`, a connection string's
 * `Password=` or `PWD={...}`, `x-api-key: `, `password: '...'`, `"secret": "..."`). The same
 * string comes back when it holds none; most text pays for one regular expression test only, and
 * any text for a few passes linear in its length. Loggers apply it to messages; `jsonReadyFields`
 * to every string among a line's fields.
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
