import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HeraldError } from '@herald/core';
import { HttpErrors } from './errors.js';
import { headerLines } from './rawHeaders.js';

/** The request header carrying the key (draft-ietf-httpapi-idempotency-key-header). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** The response header set on a replayed response. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

const PRINTABLE = /^[\x20-\x7e]{1,255}$/;

/**
 * The `Idempotency-Key` of a request, read with {@link parseIdempotencyKey}; throws an
 * `idempotency-key-invalid` error when the header appears more than once. Node joins the lines of
 * a repeated header into one value (`b7, b8`), a valid key of its own that a later request could
 * send in one line and be answered with the first one's response; only the raw header lines
 * (names in any case) tell the two apart.
 */
export function idempotencyKeyOf(message: Pick<IncomingMessage, 'headers' | 'rawHeaders'>): string | undefined {
  const header = message.headers[IDEMPOTENCY_KEY_HEADER];
  if (header !== undefined && headerLines(message.rawHeaders, IDEMPOTENCY_KEY_HEADER) > 1) throw invalidKey(ONCE);
  return parseIdempotencyKey(header);
}

const ONCE = 'the Idempotency-Key header must appear once';

/**
 * Reads an `Idempotency-Key` header value. The draft defines it as a Structured Field string
 * (`"abc"`); bare tokens are accepted too, as most clients send them. The key must be 1-255
 * printable ASCII characters. Returns undefined when the header is absent; throws an
 * `idempotency-key-invalid` error when it is present but unusable (empty, too long, non-ASCII,
 * repeated). A repeat is seen only as an array: Node's `headers` holds one joined string instead,
 * so read a request's key with {@link idempotencyKeyOf}.
 */
export function parseIdempotencyKey(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') throw invalidKey(ONCE);
  const key = header.length >= 2 && header.startsWith('"') && header.endsWith('"') ? unquote(header) : header;
  if (!PRINTABLE.test(key)) throw invalidKey('an Idempotency-Key must be 1-255 printable ASCII characters');
  return key;
}

/** Decodes an sf-string: backslash-quote and backslash-backslash are the only escapes; a bare quote inside is an error. */
function unquote(value: string): string {
  let out = '';
  for (let i = 1; i < value.length - 1; i++) {
    const c = value[i]!;
    if (c === '"') throw invalidKey('malformed quoted Idempotency-Key');
    if (c === '\\') {
      const next = value[++i];
      if ((next !== '"' && next !== '\\') || i >= value.length - 1) throw invalidKey('malformed quoted Idempotency-Key');
      out += next;
    } else out += c;
  }
  return out;
}

function invalidKey(message: string): HeraldError {
  return new HeraldError(HttpErrors.idempotencyKeyInvalid, message);
}

/**
 * The fingerprint that decides whether a repeated key carries the same request: SHA-256 over the
 * method, the path (with its query) and the body as canonical JSON (object keys sorted), so
 * whitespace or key order do not make two equal requests differ.
 */
export function requestFingerprint(request: { method: string; path: string; body: unknown }): string {
  const hash = createHash('sha256');
  hash.update(`${request.method.toUpperCase()} ${request.path}\n`);
  hash.update(canonicalJson(request.body));
  return hash.digest('hex');
}

/**
 * JSON with object keys sorted at every level; `undefined` (no body) becomes an empty string.
 * For a JSON value (what a parsed body holds) it is exactly `JSON.stringify` with sorted keys, so
 * fingerprints stored before a deploy still match. It walks the value with an explicit stack, not
 * recursion: a body a few kilobytes long can nest thousands deep, and a recursive walk would
 * overflow the call stack on it (a RangeError, a 500) although the route accepts the body.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return '';
  let out = '';
  // what is left to write, last first: literal text, or a value to serialize
  const pending: (string | { readonly value: unknown })[] = [{ value }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (typeof next === 'string') {
      out += next;
      continue;
    }
    const current = next.value;
    if (Array.isArray(current)) {
      pending.push(']');
      for (let i = current.length - 1; i >= 0; i--) {
        pending.push({ value: current[i] });
        if (i > 0) pending.push(',');
      }
      pending.push('[');
    } else if (current !== null && typeof current === 'object') {
      const record = current as Record<string, unknown>;
      // as JSON.stringify does, members whose value JSON cannot hold are left out
      const keys = sortedKeys(record).filter((key) => representable(record[key]));
      pending.push('}');
      for (let i = keys.length - 1; i >= 0; i--) {
        pending.push({ value: record[keys[i]!] }, `${JSON.stringify(keys[i])}:`);
        if (i > 0) pending.push(',');
      }
      pending.push('{');
    } else {
      // a string, number, boolean or null; in an array, what JSON cannot hold is written null
      out += JSON.stringify(current) ?? 'null';
    }
  }
  return out;
}

/**
 * The keys in the order an object built by inserting them sorted lists them, as the recursive
 * version wrote them: integer-like keys first, in numeric order ("9" before "10"), then the others
 * sorted.
 */
function sortedKeys(record: Record<string, unknown>): string[] {
  const ordered: Record<string, true> = {};
  for (const key of Object.keys(record).sort()) ordered[key] = true;
  return Object.keys(ordered);
}

function representable(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
