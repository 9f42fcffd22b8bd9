import type { Clock } from '../../ports/clock.js';
import type { InboxStore } from '../../ports/stores/inbox.js';
import type { Middleware } from '../handler.js';

/**
 * Exactly-once effects per consumer group and event id: records the inbox mark in `ctx.tx` (so it
 * must run inside the transaction policy) and runs the handler only when the mark is new. An event
 * whose mark is already there is a duplicate: the delivery is settled `duplicate` and the handler
 * does not run.
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
      await next(event, ctx);
    };
}
