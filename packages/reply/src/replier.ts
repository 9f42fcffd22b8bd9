import { describeGiven, HeraldError, type Envelope, type Handler, type HandlerContext } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import { checkRequestDefinition, invalid } from './checks.js';
import { REPLY_HEADERS, type RequestDefinition } from './definition.js';
import { ReplyErrors } from './errors.js';

/** Computes the reply's data from a request; effects go through `ctx` like any handler's. */
export type Answer<Req extends TSchema, Rep extends TSchema, Tx> = (request: Envelope<Static<Req>>, ctx: HandlerContext<Tx>) => Promise<Static<Rep>>;

/**
 * A handler that answers requests: it runs `answer` and publishes the reply with `ctx.publish`,
 * so the reply commits in the handler's transaction together with its writes and the inbox mark
 * (a request is answered once per group, in effect; a redelivered request is not answered
 * again). The reply carries the request's routing headers back, and its correlation id and
 * causation (the request) as usual. A request without routing headers is dead-lettered
 * (`request-headers-missing`); when `answer` throws, the usual retries and dead letter apply and
 * the requester times out. A `definition` that is not a request definition or an `answer` that is
 * not a function is refused at once (`invalid-options`), not at the first request.
 *
 * @example
 * app.on(GetProfile.request, { group: 'users' }, replier(GetProfile, async (request, ctx) => {
 *   const [user] = await ctx.tx.query('SELECT email FROM users WHERE id = $1', [request.data.userId]);
 *   return { userId: request.data.userId, email: user.email };
 * }));
 */
export function replier<Req extends TSchema, Rep extends TSchema, Tx = unknown>(
  definition: RequestDefinition<Req, Rep>,
  answer: Answer<Req, Rep, Tx>,
): Handler<Envelope<Static<Req>>, Tx> {
  checkRequestDefinition(definition, 'replier: definition');
  if (typeof answer !== 'function') throw invalid(`replier: answer: expected a function (request, ctx) => reply data, got ${describeGiven(answer)}`);
  return async function replyHandler(request, ctx) {
    const replyTo = request.headers[REPLY_HEADERS.replyTo];
    const requestId = request.headers[REPLY_HEADERS.requestId];
    if (!replyTo || !requestId) {
      throw new HeraldError(ReplyErrors.requestHeadersMissing, `${request.type} ${request.id} has no ${REPLY_HEADERS.replyTo} / ${REPLY_HEADERS.requestId} header: nobody to reply to`);
    }
    const data = await answer(request, ctx);
    await ctx.publish(definition.reply, data, { headers: { [REPLY_HEADERS.replyTo]: replyTo, [REPLY_HEADERS.requestId]: requestId } });
  };
}
