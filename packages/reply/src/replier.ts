import { describeGiven, HeraldError, systemClock, type Clock, type Envelope, type Handler, type HandlerContext } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import { checkOptions, checkRequestDefinition, invalid } from './checks.js';
import { REPLY_HEADERS, type RequestDefinition } from './definition.js';
import { ReplyErrors } from './errors.js';

/** Computes the reply's data from a request; effects go through `ctx` like any handler's. */
export type Answer<Req extends TSchema, Rep extends TSchema, Tx> = (request: Envelope<Static<Req>>, ctx: HandlerContext<Tx>) => Promise<Static<Rep>>;

/** Options of {@link replier}. */
export interface ReplierOptions {
  /** The clock a request's deadline is compared with. Default the system clock. */
  readonly clock?: Clock;
  /**
   * How far past its deadline (by this replier's clock) a request is still answered, to allow for
   * the requester's clock running behind this one. Default 1 000; 0 trusts the clocks to agree.
   */
  readonly clockSkewAllowanceMs?: number;
}

/** Every default of a replier, in one place. */
export const REPLIER_DEFAULTS = { clockSkewAllowanceMs: 1_000 } as const;

const REPLIER_OPTION_KEYS = Object.keys({ clock: true, clockSkewAllowanceMs: true } satisfies Readonly<Record<keyof ReplierOptions, true>>);

/**
 * A handler that answers requests: it runs `answer` and publishes the reply with `ctx.publish`,
 * so the reply commits in the handler's transaction together with its writes and the inbox mark
 * (a request is answered once per group, in effect; a redelivered request is not answered
 * again). The reply carries the request's routing headers back, and its correlation id and
 * causation (the request) as usual. A request without routing headers is dead-lettered
 * (`request-headers-missing`); when `answer` throws, the usual retries and dead letter apply and
 * the requester times out. A request read after its deadline (`herald-request-deadline`, plus
 * `clockSkewAllowanceMs`) is skipped: `answer` does not run, nothing is replied, it is logged
 * at info and emitted as a `request-expired` fact once the skip committed (once: the inbox
 * absorbs a redelivery of the skipped request); its requester stopped waiting, so the work would
 * be wasted. A request without the header (from an older requester) is answered. A `definition`
 * that is not a request definition, an `answer` that is not a function or a bad option is refused
 * at once (`invalid-options`), not at the first request.
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
  options: ReplierOptions = {},
): Handler<Envelope<Static<Req>>, Tx> {
  checkRequestDefinition(definition, 'replier: definition');
  if (typeof answer !== 'function') throw invalid(`replier: answer: expected a function (request, ctx) => reply data, got ${describeGiven(answer)}`);
  const { clock, allowanceMs } = replierSettings(options);
  return async function replyHandler(request, ctx) {
    const replyTo = request.headers[REPLY_HEADERS.replyTo];
    const requestId = request.headers[REPLY_HEADERS.requestId];
    if (!replyTo || !requestId) {
      throw new HeraldError(ReplyErrors.requestHeadersMissing, `${request.type} ${request.id} has no ${REPLY_HEADERS.replyTo} / ${REPLY_HEADERS.requestId} header: nobody to reply to`);
    }
    // an unreadable deadline is treated as none: answering too late wastes work, skipping wrongly fails a caller
    const deadline = readDeadline(request.headers[REPLY_HEADERS.deadline]);
    const lateByMs = deadline === undefined ? 0 : clock.now() - deadline;
    if (deadline !== undefined && lateByMs >= allowanceMs) {
      ctx.logger.info('replier: skipped a request past its deadline; its requester no longer waits', { requestType: request.type, requestId, requester: replyTo, deadline, lateByMs });
      ctx.emitAfterCommit({ kind: 'request-expired', group: ctx.group, topic: ctx.delivery.topic, requestType: request.type, requester: replyTo, lateByMs });
      return;
    }
    const data = await answer(request, ctx);
    await ctx.publish(definition.reply, data, { headers: { [REPLY_HEADERS.replyTo]: replyTo, [REPLY_HEADERS.requestId]: requestId } });
  };
}

/** The deadline in epoch ms, or undefined when the header is absent or not a whole number of ms. */
function readDeadline(header: string | undefined): number | undefined {
  return header !== undefined && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
}

function replierSettings(options: ReplierOptions): { clock: Clock; allowanceMs: number } {
  checkOptions('replier: options', options, REPLIER_OPTION_KEYS, '{ clockSkewAllowanceMs: 1_000 }');
  const given = options as ReplierOptions;
  const clock = given.clock ?? systemClock;
  if (typeof (clock as Partial<Clock> | null)?.now !== 'function') throw invalid(`replier: options.clock: expected a Clock (now(), sleep(), setTimer()), got ${describeGiven(given.clock)}`);
  const allowanceMs: unknown = given.clockSkewAllowanceMs ?? REPLIER_DEFAULTS.clockSkewAllowanceMs;
  if (!(typeof allowanceMs === 'number' && Number.isFinite(allowanceMs) && allowanceMs >= 0)) {
    throw invalid(`replier: options.clockSkewAllowanceMs must be a number of ms, 0 or more, got ${describeGiven(allowanceMs)}`);
  }
  return { clock, allowanceMs };
}
