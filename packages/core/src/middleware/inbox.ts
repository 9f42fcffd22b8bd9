import type { Clock } from '../clock.js';
import { deriveContext, type Middleware } from '../handler.js';
import { bindPublisher, type BoundPublisher, type PublisherDeps } from '../internal/publisher.js';
import { abortReasonOf, isAborted, isRuntimeContext } from '../internal/runtimeContext.js';
import { stateOf } from '../internal/state.js';
import type { Stores, TransactionRunner } from '../store.js';

/**
 * Exactly-once effects per consumer group and event id. Opens the store transaction, records the
 * inbox mark, and runs the handler with `ctx.tx` and `ctx.publish` bound to that transaction, so
 * the mark, the handler's writes and its outgoing events commit together or not at all. An event
 * whose mark is already there is a duplicate: the handler is not run.
 *
 * If the attempt's signal aborted (timeout, closing) the transaction is rolled back even when the
 * handler returned normally, so an abandoned attempt never commits half-observed work.
 */
export function inbox<Tx>(
  options: { stores: Stores<Tx>; clock: Clock; transactions?: TransactionRunner<Tx> } & Omit<PublisherDeps<Tx>, 'outbox' | 'clock'>,
): Middleware<Tx> {
  const { stores, clock } = options;
  const transactions: TransactionRunner<Tx> = options.transactions ?? stores;
  const publisherDeps: PublisherDeps<Tx> = { ...options, outbox: stores.outbox };
  return (next) =>
    async function inboxHandler(event, ctx) {
      const state = stateOf(ctx);
      let committed: (() => void) | undefined;
      await transactions.transaction(async (tx) => {
        const fresh = await stores.inbox.markHandled(tx, { group: ctx.group, eventId: event.id, handledAt: clock.now() });
        if (!fresh) {
          state.outcome = 'duplicate';
          return;
        }
        let publisher: BoundPublisher | undefined;
        const bind = () => (publisher ??= bindPublisher(publisherDeps, tx, event));
        const inTx = isRuntimeContext(ctx)
          ? ctx.withTransaction(tx, { make: () => bind().publish })
          : deriveContext(ctx, { tx, publish: bind().publish });
        await next(event, inTx);
        if (isAborted(ctx)) throw abortReasonOf(ctx);
        committed = publisher?.committed;
        state.outcome = 'applied';
      });
      committed?.();
    };
}
