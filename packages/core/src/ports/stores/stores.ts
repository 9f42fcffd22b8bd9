/**
 * The stores an engine must provide over one transaction type `Tx`, so the inbox mark, the
 * handler's own writes and its outgoing events commit together: the transaction runner, the
 * outbox, the inbox and dead letters. Everything else is an optional ability found with a type
 * guard (`hasIdempotency`, `canBrowseDeadLetters`, `hasOutboxBacklog`, `canSweepRetention`,
 * `hasOutboxSignal`, `hasReadTransactions`). Each has its own conformance suite in `@herald/testing`, except retention,
 * whose rules (what is kept, for how long) are each engine's and tested with it, and the outbox
 * signal, which the pipeline suite exercises.
 */
import type { DeadLetterStore } from './deadLetters.js';
import type { InboxStore } from './inbox.js';
import type { OutboxStore } from './outbox.js';
import type { TransactionRunner } from './transaction.js';

export interface Stores<Tx> extends TransactionRunner<Tx> {
  readonly outbox: OutboxStore<Tx>;
  readonly inbox: InboxStore<Tx>;
  readonly deadLetters: DeadLetterStore;
  /** Waits for transactions in progress, then releases connections and files. Idempotent. */
  close(): Promise<void>;
}
