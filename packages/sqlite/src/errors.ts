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
    meaning:
      'A SQLite file (the message names it) could not be opened, read or written: the disk is full, an I/O error, the file or its directory is read-only or cannot be opened; or the fsync of committed transactions failed, so they may or may not be on disk. details.sqliteCode says which.',
    action: 'Check the disk and the file (free space, mount, permissions). Retried by the pipeline: work that was not acknowledged is retried; acknowledged work was synced.',
  },
  storeConstraint: {
    code: 'store-constraint',
    retriable: false,
    meaning: 'A UNIQUE, PRIMARY KEY, FOREIGN KEY, CHECK or NOT NULL constraint refused a write; the message names it, details.sqliteCode says which kind.',
    action: 'Treat it as a business error (e.g. a seat already taken) or fix the data the handler writes.',
  },
  storeFailed: {
    code: 'store-failed',
    retriable: false,
    meaning: 'Any other SQLite error: bad SQL, a missing table or column, a value of the wrong type; details.sqliteCode says which.',
    action: 'Fix the statement or the schema; the dead letter keeps the event for a redrive.',
  },
  storeCorrupt: {
    code: 'store-corrupt',
    retriable: false,
    meaning: 'A SQLite file of the engine (log.db or store.db; the message names it) is damaged or is not a SQLite database.',
    action: "Stop the processes using it and restore it from a backup, or recover what SQLite can (sqlite3 FILE '.recover'). Deleting it loses its data (log records and offsets, or the outbox, inbox marks and your tables).",
  },
  storeNewerVersion: {
    code: 'store-newer-version',
    retriable: false,
    meaning: "A SQLite file of the engine (log.db or store.db; the message names it) was written by a newer version of Herald: its tables' schema version is above the newest this version knows, so it was not opened.",
    action: 'Run the newer version of Herald (or a later one) on this data directory; opening it with an older version is not supported.',
  },
  storeNotMigrated: {
    code: 'store-not-migrated',
    retriable: false,
    meaning:
      "A SQLite file of the engine (log.db or store.db; the message names it) was opened with migrate: false (as the herald CLI opens an app's files) but has no Herald tables, or older ones than this version's; it was not changed. details.version is its schema version (0: none).",
    action: "Point the tool at the app's data directory, and run the tool of the app's Herald version: the app's start migrates its files.",
  },
  transactionConflict: {
    code: 'transaction-conflict',
    retriable: true,
    meaning:
      'A transaction kept reading writes of concurrent transactions that then rolled back, and was rolled back itself; or, as the message then says, one of its statements answers differently on each run (random(), randomblob(), a clock default read back with RETURNING), so its replay after an await of more than a few ms never matches.',
    action:
      'Retried by the pipeline. Prefer SET n = n + 1 to read-then-write when many transactions touch the same rows; take ids, random values and timestamps from JavaScript parameters, not SQL functions.',
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
