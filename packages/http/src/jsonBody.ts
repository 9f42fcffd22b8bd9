import { HeraldError, jsonEscapesUnstorableText } from '@herald/core';
import type { FastifyBodyParser } from 'fastify';
import { jsonDepth } from './bodyDepth.js';
import { JSON_MEDIA_TYPE, mediaTypeOf } from './bodyContentType.js';
import { HttpErrors } from './errors.js';
import { forbiddenProperties } from './forbiddenProperties.js';
import { quoted, unstorableText } from './text.js';
import { requestPartInvalid } from './validation.js';

/** `application/json` or any `application/*+json`, with or without parameters (the body parser checks the charset). */
export function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && JSON_MEDIA_TYPE.test(mediaTypeOf(contentType));
}

/**
 * A media type's parameter: its name, then a quoted string (escapes kept, undone below) or a
 * token. A quoted value may hold a `;`, so splitting the header on `;` would misread it.
 */
const PARAMETER = /;\s*([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]*)/g;

/** How clients name UTF-8: the registered name, and the common `utf8` (no hyphen) some send. */
const UTF8_NAMES = new Set(['utf-8', 'utf8']);

/**
 * Refuses (415 `unsupported-media-type`) a content type whose `charset` parameter, quoted or not,
 * names anything but UTF-8. JSON on the wire is UTF-8 (RFC 8259 §8.1), but a client that declares
 * another charset has encoded its text in it: read as UTF-8, its non-ASCII characters would be
 * replaced or misread, and the damaged text stored without an error. No charset means UTF-8.
 */
function requireUtf8Charset(contentType: string | undefined): void {
  // the common case, `application/json` alone, has no parameters to read
  if (contentType === undefined || !contentType.includes(';')) return;
  for (const [, name, value] of contentType.matchAll(PARAMETER)) {
    if (name!.toLowerCase() !== 'charset') continue;
    const isQuoted = value!.length >= 2 && value!.startsWith('"') && value!.endsWith('"');
    const charset = isQuoted ? value!.slice(1, -1).replace(/\\(.)/g, '$1') : value!;
    if (!UTF8_NAMES.has(charset.toLowerCase())) {
      // quoted(): the client's value goes into the answer and the log, at most its first characters
      throw new HeraldError(HttpErrors.unsupportedMediaType, `a JSON body must be UTF-8, but the content type declares charset=${quoted(charset)}`);
    }
  }
}

/**
 * Refuses (415 `content-encoding-unsupported`) a body with a Content-Encoding other than
 * `identity`: the gateway decodes none, so a gzipped body would be read as its compressed bytes
 * (400, "not valid UTF-8", which sends the client looking for the wrong fault) and a plain body
 * labelled gzip accepted although the client said it was something else.
 */
function requireIdentityEncoding(contentEncoding: string | undefined): void {
  if (contentEncoding === undefined) return;
  const codings = contentEncoding.split(',').map((coding) => coding.trim().toLowerCase());
  if (codings.every((coding) => coding === '' || coding === 'identity')) return;
  throw new HeraldError(HttpErrors.contentEncodingUnsupported, `the body's Content-Encoding ${quoted(contentEncoding.trim())} is not accepted: send the body unencoded`);
}

/** Decodes and validates in one pass; `fatal` makes bytes that are not UTF-8 an error instead of U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The text of a body's bytes; 400 `malformed-json` when they are not UTF-8 (RFC 8259 §8.1 allows nothing else). */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch (error) {
    throw new HeraldError(HttpErrors.malformedJson, 'the JSON body is not valid UTF-8', { cause: error });
  }
}

/**
 * Why the parser refused a body, when it is valid JSON: its properties refused as prototype
 * poisoning (422 `forbidden-property`, naming where), not the 400 `malformed-json` the parser says.
 */
function prototypePoisoning(text: string): HeraldError | undefined {
  const issues = forbiddenProperties(text);
  if (issues.length === 0) return undefined;
  const summary = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join('; ');
  return new HeraldError(HttpErrors.forbiddenProperty, `the request body is valid JSON but has a property no route accepts: ${summary}`, { details: { issues } });
}

/**
 * The gateway's JSON body parser, over the body's bytes (`parseAs: 'buffer'`): refuses a
 * Content-Encoding other than identity (415), a declared charset other than UTF-8 (415), bytes
 * that are not UTF-8 (400 `malformed-json`; read as a string they would have become U+FFFD
 * silently) and a body nested deeper than `maxDepth` (400 `body-too-deep`, before parsing), then
 * hands the text to `parse`; a parsed body with a string no store can keep (U+0000, a lone
 * surrogate: see `unstorableText`) is 422 `schema-violation`; a body refused for prototype poisoning
 * (`__proto__`, `constructor.prototype`: see `forbiddenProperties`) is 422 `forbidden-property`.
 */
export function jsonBodyParser(parse: FastifyBodyParser<string>, maxDepth: number): FastifyBodyParser<Buffer> {
  return function parseJsonBody(request, bytes, done) {
    let text: string;
    try {
      requireIdentityEncoding(request.headers['content-encoding']);
      requireUtf8Charset(request.headers['content-type']);
      text = decodeUtf8(bytes);
    } catch (error) {
      done(error as HeraldError, undefined);
      return;
    }
    if (jsonDepth(text, maxDepth) > maxDepth) {
      done(new HeraldError(HttpErrors.bodyTooDeep, `the JSON body nests arrays and objects more than ${maxDepth} levels deep`), undefined);
      return;
    }
    // a NUL or a lone surrogate can only come as a \u escape (raw control characters are no JSON,
    // and the bytes were UTF-8): a body whose escapes hold neither (most: none at all, or an ASCII
    // writer's accents and emoji) is not walked. Invalid JSON is refused by the parse either way.
    const walk = jsonEscapesUnstorableText(text);
    parse(request, text, (error, value) => {
      if (error) return done(prototypePoisoning(text) ?? error, undefined);
      if (!walk) return done(null, value);
      const issues = unstorableText(value);
      if (issues.length > 0) return done(requestPartInvalid('body', issues), undefined);
      done(null, value);
    });
  };
}
