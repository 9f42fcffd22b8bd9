import { defineErrorCodes } from '@herald/core';

/**
 * The error codes the embedded engine adds to the core's (`CoreErrors`): its errors are
 * `HeraldError`s with these codes or the core's.
 */
export const { specs: SqliteErrors, codes: SqliteErrorCodes } = defineErrorCodes({
  storeBusy: {
    code: 'store-busy',
    retriable: true,
    meaning: 'Another process held the SQLite write lock for longer than busyTimeoutMs.',
    action: 'Retried by the pipeline; if it persists, look for a process holding long transactions on the same file, or raise busyTimeoutMs.',
  },
  storeUnavailable: {
    code: 'store-unavailable',
    retriable: true,
    meaning: 'The fsync of committed transactions failed: they may or may not be on disk.',
    action: 'Check the disk (full, read-only, failing). Work that was not acknowledged is retried; acknowledged work was synced.',
  },
  transactionConflict: {
    code: 'transaction-conflict',
    retriable: true,
    meaning: 'A transaction kept reading writes of concurrent transactions that then rolled back, and was rolled back itself.',
    action: 'Retried by the pipeline. Prefer SET n = n + 1 to read-then-write when many transactions touch the same rows.',
  },
  transactionControl: {
    code: 'transaction-control',
    retriable: false,
    meaning: 'A statement run through tx tried to BEGIN, COMMIT, ROLLBACK or SAVEPOINT; the engine controls the transaction.',
    action: 'Remove the statement: the work commits when it resolves and rolls back when it throws.',
  },
  foreignTransaction: {
    code: 'foreign-transaction',
    retriable: false,
    meaning: 'A store was given a tx that does not come from the same SQLite stores.',
    action: 'Use the tx of the transaction you are in (ctx.tx, or the argument of stores.transaction).',
  },
  unknownPartition: {
    code: 'unknown-partition',
    retriable: false,
    meaning: 'The log was asked for a partition that does not exist in its file.',
    action: 'A bug or a damaged log file: report it with the file.',
  },
});
