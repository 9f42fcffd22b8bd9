import { CoreErrors, HeraldError } from '@herald/core';
import type { TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpErrors } from './errors.js';
import { quoted } from './text.js';

/** A route's body: its schema, and the media types it may be sent as. */
export interface BodyRoute {
  readonly body?: TSchema;
  readonly contentTypes?: readonly string[];
}

/** `application/json` or `application/<subtype>+json`, lower case, no parameters. */
export const JSON_MEDIA_TYPE = /^application\/(?:json|[a-z0-9!#$&^_.-]+\+json)$/;

/** A Content-Type's media type, without its parameters, lower case. */
export function mediaTypeOf(header: string): string {
  return header.split(';')[0]!.trim().toLowerCase();
}

/**
 * The media types a route's body is accepted as, checked once when the route is declared:
 * `application/json` unless the route declares its own. A `+json` type (RFC 6839) is JSON
 * syntax, but not always plain data: `application/merge-patch+json` (RFC 7396) says a `null`
 * deletes a field, `application/json-patch+json` (RFC 6902) is a list of operations. A route that
 * took any of them as plain JSON would apply them as something the client did not mean, so it
 * takes only the types it names. `invalid-options` for an empty list, a type that is not JSON or
 * carries parameters, or a list on a route without a body schema.
 */
export function bodyContentTypes(route: BodyRoute, label: string): ReadonlySet<string> {
  const declared = route.contentTypes;
  if (declared === undefined) return new Set(['application/json']);
  const refuse = (why: string) => new HeraldError(CoreErrors.invalidOptions, `${label}: contentTypes ${why}`);
  if (!route.body) throw refuse('needs a body schema: without one the route takes no body it checks');
  if (!Array.isArray(declared) || declared.length === 0) throw refuse('must be a non-empty array of JSON media types');
  for (const type of declared as readonly unknown[]) {
    if (typeof type !== 'string' || !JSON_MEDIA_TYPE.test(type.toLowerCase())) {
      throw refuse(`must list application/json or application/<subtype>+json types without parameters, got ${quoted(type)}`);
    }
  }
  return new Set(declared.map((type) => type.toLowerCase()));
}

/**
 * Refuses, before the body is read, a body on a route with a body schema whose Content-Type is
 * none of the route's `accepted` types (parameters aside: the parser checks the charset), also a
 * missing one: 415 `unsupported-media-type` with `Accept` listing them (RFC 9110 §12.5.1).
 */
export function requireContentType(route: BodyRoute, accepted: ReadonlySet<string>, request: FastifyRequest, reply: FastifyReply): void {
  if (!route.body) return;
  const header = request.headers['content-type'];
  const media = header === undefined ? undefined : mediaTypeOf(header);
  if (media !== undefined && accepted.has(media)) return;
  const list = [...accepted].join(', ');
  reply.header('accept', list);
  const sent = media === undefined ? 'none was given' : `not ${quoted(media)}`;
  throw new HeraldError(HttpErrors.unsupportedMediaType, `the request body's Content-Type must be ${accepted.size > 1 ? 'one of ' : ''}${list}, ${sent}`);
}
