import { assertEventDefinition, type EventDefinition } from '@herald/core';
import type { TSchema } from '@sinclair/typebox';
import { checkOptions, invalid } from './checks.js';

/** A request event type and the reply event type that answers it. */
export interface RequestDefinition<Req extends TSchema = TSchema, Rep extends TSchema = TSchema> {
  readonly request: EventDefinition<Req>;
  readonly reply: EventDefinition<Rep>;
}

/**
 * Pairs a request event with its reply event. They must go to different topics: requesters read
 * the reply topic, repliers the request topic. Throws `invalid-options` naming what is wrong when
 * either is not an event definition (from `defineEvent`) or an unknown key is given.
 *
 * @example
 * const GetProfile = defineRequest({ request: ProfileRequested, reply: ProfileReturned });
 */
export function defineRequest<Req extends TSchema, Rep extends TSchema>(definition: RequestDefinition<Req, Rep>): RequestDefinition<Req, Rep> {
  checkOptions('defineRequest', definition, ['request', 'reply'], '{ request: ProfileRequested, reply: ProfileReturned }');
  assertEventDefinition(definition.request, 'defineRequest: request');
  assertEventDefinition(definition.reply, 'defineRequest: reply');
  if (definition.request.topic === definition.reply.topic) {
    throw invalid(`defineRequest: ${definition.request.type} and ${definition.reply.type} must go to different topics (both go to "${definition.reply.topic}")`);
  }
  return { request: definition.request, reply: definition.reply };
}

/**
 * Envelope headers of request/reply. `replyTo` and `requestId` route a reply: the requester
 * instance that asked and the request's id (the request event's id); a reply carries both back.
 * `deadline` (requests only) is when the requester stops waiting, in epoch milliseconds of its
 * clock: a replier skips a request past it (see `replier`).
 */
export const REPLY_HEADERS = { replyTo: 'herald-reply-to', requestId: 'herald-request-id', deadline: 'herald-request-deadline' } as const;
