import { createHash } from 'node:crypto';
import { HeraldError } from '@herald/core';
import { HttpErrors } from './problem.js';

/** The request header carrying the key (draft-ietf-httpapi-idempotency-key-header). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** The response header set on a replayed response. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

const PRINTABLE = /^[\x20-\x7e]{1,255}$/;

/**
 * Reads an `Idempotency-Key` header value. The draft defines it as a Structured Field string
 * (`"abc"`); bare tokens are accepted too, as most clients send them. The key must be 1-255
 * printable ASCII characters. Returns undefined when the header is absent; throws an
 * `idempotency-key-invalid` error when it is present but unusable (empty, too long, non-ASCII,
 * repeated).
 */
export function parseIdempotencyKey(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') throw invalidKey('the Idempotency-Key header must appear once');
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

/** JSON with object keys sorted at every level; `undefined` (no body) becomes an empty string. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return '';
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}
