import type { Clock } from '../../ports/clock.js';
import type { InboxStore } from '../../ports/stores/inbox.js';
import type { Middleware } from '../handler.js';

/**
 * Exactly-once effects per consumer group and event id: records the inbox mark in `ctx.tx` (so it
 * must run inside the transaction policy) and runs the handler only when the mark is new. An event
 * whose mark is already there is a duplicate: the delivery is settled `duplicate` and the handler
 * does not run, nor for an attempt aborted while its mark was being written.
 */
export function inbox<Tx>(options: { inbox: InboxStore<Tx>; clock: Clock }): Middleware<Tx> {
  const { clock } = options;
  const store = options.inbox;
  return (next) =>
    async function inboxHandler(event, ctx) {
      const fresh = await store.markHandled(ctx.tx, { group: ctx.group, eventId: event.id, handledAt: clock.now() });
      if (!fresh) {
        ctx.state.settle('duplicate');
        return;
      }
      // the mark may have waited on another attempt's (a lock wait on PostgreSQL) past this
      // attempt's deadline: an abandoned attempt must not run the handler (its effects outside the
      // database would happen for an attempt already failed, even dead-lettered)
      ctx.throwIfAborted();
      await next(event, ctx);
    };
}
