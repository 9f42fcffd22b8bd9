import type { FastifyReply } from 'fastify';
import { IDEMPOTENT_REPLAYED_HEADER } from './idempotencyKey.js';
import type { StoredResponse } from './idempotent.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Sends a route's response as JSON; a replayed one (a stored response) says so in a header. */
export function send(reply: FastifyReply, response: StoredResponse, replayed: boolean): FastifyReply {
  reply.code(response.status).headers({ ...response.headers });
  if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
  return reply.type(JSON_TYPE).send(JSON.stringify(response.body));
}
