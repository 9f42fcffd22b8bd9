import type { Stores } from './stores.js';

/**
 * Optional ability of the stores: read-only transactions over committed state, for queries that
 * answer a caller (an HTTP read model, a report) and must not see another transaction half done.
 */
export interface ReadTransactions<Tx> {
  /**
   * Runs `work` in a read-only transaction and settles with its result once the transaction ended.
   *
   * Contract: `work` sees only committed data, and what it saw is durable (on disk) before this
   * resolves: it never answers with a state another transaction may still roll back, or that a
   * power cut may undo. All of `work`'s statements read one consistent snapshot (on SQLite and
   * PostgreSQL: the state committed when the transaction began or ran its first statement); a
   * transaction committing meanwhile is not seen, nor are the writes of transactions still open.
   * A write through `tx` (an `INSERT`, DDL, a store operation such as `outbox.append(tx, ...)`)
   * fails with the non-retriable `read-only-transaction` and changes nothing. Reads do not take the
   * write lock and are never batched with other transactions. `work` still running after the
   * engine's `transactionTimeoutMs` fails with a retriable `timeout`; the `tx` handle must not be
   * used after `work` settles. `close()` waits for reads in progress.
   */
  read<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

/** Whether `stores` run read-only transactions (see {@link ReadTransactions}). */
export function hasReadTransactions<S extends Stores<Tx>, Tx>(stores: S): stores is S & ReadTransactions<Tx> {
  return typeof (stores as Partial<ReadTransactions<Tx>>).read === 'function';
}
