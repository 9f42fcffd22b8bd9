import type { FastifyReply } from 'fastify';
import { HeraldError } from '@herald/core';
import { HttpErrorCodes } from './errors.js';
import { IDEMPOTENT_REPLAYED_HEADER } from './idempotencyKey.js';
import type { StoredResponse } from './idempotent.js';

const JSON_TYPE = 'application/json; charset=utf-8';
/** `application/json` or `application/<subtype>+json` (`application/problem+json`), with or without parameters. */
const JSON_MEDIA_TYPE = /^application\/(?:json|[a-z0-9!#$&^_.-]+\+json)(?:\s*;.*)?$/i;

/**
 * Sends a route's response as JSON; a replayed one (a stored response) says so in a header. A
 * `content-type` among the response's headers is kept when it is a JSON type (an answer that is
 * a problem says `application/problem+json`), else `application/json`. Any other type is a
 * route's mistake (the body is written as JSON whatever it says): an `internal` error (500, its
 * message in the log, not in the answer).
 */
export function send(reply: FastifyReply, response: StoredResponse, replayed: boolean): FastifyReply {
  let type = JSON_TYPE;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    if (name.toLowerCase() !== 'content-type') headers[name] = value;
    else if (JSON_MEDIA_TYPE.test(value)) type = value;
    else throw new HeraldError(HttpErrorCodes.internal, `a route's response is written as JSON: its content-type must be application/json or application/<subtype>+json, got "${value}"`);
  }
  reply.code(response.status).headers(headers);
  if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
  // a Buffer: fastify would add a charset to a string's type, and a problem's has none
  return reply.type(type).send(Buffer.from(JSON.stringify(response.body)));
}
