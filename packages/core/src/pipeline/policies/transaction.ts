import type { Clock } from '../../ports/clock.js';
import type { Instrumentation, InstrumentationEvent } from '../../ports/instrumentation.js';
import type { OutboxStore } from '../../ports/stores/outbox.js';
import type { TransactionRunner } from '../../ports/stores/transaction.js';
import type { TimerStore } from '../../ports/stores/timers.js';
import { setCommitting, untilAttemptAborted } from '../context.js';
import type { Middleware } from '../handler.js';
import { bindPublisher, lazyPublish, type BoundPublisher, type PublisherDeps } from '../publisher.js';

export interface TransactionPolicyOptions<Tx> {
  /** Runs the transactions (the engine's stores, or a batcher in front of them). */
  readonly transactions: TransactionRunner<Tx>;
  readonly outbox: OutboxStore<Tx>;
  readonly clock: Clock;
  readonly instrumentation: Instrumentation;
  readonly maxEventBytes: number;
  /** Where `ctx.publish.schedule` keeps timers; without it, scheduling throws `timers-unavailable`. */
  readonly timers?: TimerStore<Tx>;
  /** Told after the commit when the transaction scheduled timers (see `PublisherDeps.onScheduled`). */
  readonly onScheduled?: (dueAt: number) => void;
}

/**
 * Runs the rest of the pipeline in one store transaction: binds `ctx.tx` to it and `ctx.publish`
 * to its outbox, and commits when the inner steps resolve (rolls back when they throw), so
 * everything they write — the inbox mark, the handler's rows, its outgoing events — commits
 * together or not at all. If the attempt was aborted (timeout, consumer stopping) the transaction
 * rolls back even when the handler returned normally: an abandoned attempt never commits
 * half-observed work. When its timeout aborts it, the transaction rolls back at once, without
 * waiting for a handler that ignores its signal: its locks (the inbox mark the retry needs, a
 * PostgreSQL connection, SQLite's batch) are released, and what it writes later is refused. Once
 * the work returned unaborted, the attempt is committing (`setCommitting`): a deadline passing
 * during the commit no longer fails it. After the commit the delivery is settled `applied` (unless
 * an inner policy settled it otherwise, as the inbox does for a duplicate), `published` facts
 * are emitted, and then the facts the handler gave `ctx.emitAfterCommit` in the run that committed.
 */
export function transaction<Tx>(options: TransactionPolicyOptions<Tx>): Middleware<Tx> {
  const { transactions } = options;
  const publisherDeps: PublisherDeps<Tx> = options;
  return (next) =>
    async function transactionHandler(event, ctx) {
      let committed: (() => void) | undefined;
      let recorded: InstrumentationEvent[] = [];
      await transactions.transaction(async (tx) => {
        // a batch of transactions that rolled back (another work failed) runs this work again
        setCommitting(ctx, false);
        // the publisher (and its record list) is built only if the handler publishes
        let publisher: BoundPublisher | undefined;
        const publish = lazyPublish(() => (publisher ??= bindPublisher(publisherDeps, tx, event)).publish);
        const facts: InstrumentationEvent[] = [];
        await untilAttemptAborted(ctx, next(event, ctx.with({ tx, publish, facts })));
        ctx.throwIfAborted();
        // from here the commit decides: a deadline passing while it runs does not fail the attempt
        setCommitting(ctx, true);
        committed = publisher?.committed;
        recorded = facts;
      });
      committed?.();
      for (const fact of recorded) options.instrumentation.emit(fact);
      ctx.state.settle('applied');
    };
}
