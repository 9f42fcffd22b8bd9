import { NOW_MS } from '../tables.js';
import type { Migration } from './migration.js';

/**
 * Versions 3-6: retention of inbox marks and resolved dead letters, and what the operator's read
 * side of dead letters needs (fingerprints, the offset column named as in @herald/sql, indexes).
 */
export const RETENTION_AND_READ_SIDE: readonly Migration[] = [
  {
    version: 3,
    name: 'retention of inbox marks and resolved dead letters',
    // The retention sweep deletes oldest first, reading these indexes from their old end, so a sweep
    // costs what it deletes, not the size of the table. A letter's `resolved_at` is set when its
    // status turns resolved and cleared when it turns back (the CHECK keeps every writer honest).
    // Letters already resolved count from this migration: none is purged sooner than a whole
    // retention after the upgrade. `discarded` (closed without a redrive, a status the core's type
    // gains) is admitted from now on. Building the inbox index blocks new marks while it runs
    // (migrations run in one transaction, so not CONCURRENTLY): on a large inbox, migrate when quiet.
    sql: (t) => `
      ALTER TABLE ${t.deadLetters} ADD COLUMN resolved_at bigint;
      UPDATE ${t.deadLetters} SET resolved_at = ${NOW_MS} WHERE status = 'redriven';
      ALTER TABLE ${t.deadLetters} DROP CONSTRAINT dead_letters_status_check;
      ALTER TABLE ${t.deadLetters} ADD CONSTRAINT dead_letters_status_check
        CHECK (status IN ('dead', 'parked', 'redriven', 'discarded'));
      ALTER TABLE ${t.deadLetters} ADD CONSTRAINT dead_letters_resolved_at_check
        CHECK ((resolved_at IS NOT NULL) = (status IN ('redriven', 'discarded')));
      CREATE INDEX dead_letters_resolved ON ${t.deadLetters} (resolved_at) WHERE status IN ('redriven', 'discarded');
      CREATE INDEX inbox_handled_at ON ${t.inbox} (handled_at);
    `,
  },
  {
    version: 4,
    name: 'dead letter fingerprints',
    // how a letter failed (error code + first application stack frame, hashed by the core), so the
    // read side groups letters by it; letters recorded before have none ('')
    sql: (t) => `
      ALTER TABLE ${t.deadLetters} ADD COLUMN fingerprint text NOT NULL DEFAULT '';
    `,
  },
  {
    version: 5,
    name: 'dead letter offset column named as in @herald/sql',
    // Both SQL engines read and write their rows through @herald/sql's mapping, whose offset column
    // is `record_offset`. A rename changes only the catalog (no table rewrite, a brief exclusive
    // lock). Processes of an earlier release still write `log_offset`: their dead letter adds fail
    // (and are retried, the event stays unacknowledged) until they are replaced.
    sql: (t) => `
      ALTER TABLE ${t.deadLetters} RENAME COLUMN log_offset TO record_offset;
    `,
  },
  {
    version: 6,
    name: 'dead letter read side indexes',
    // The operator's read side (DeadLetterBrowser) narrows by these most; without them the first page
    // of the open letters, of a fingerprint, and every count read the letters in seq order or the
    // whole table (measured with bench/readSide.bench.ts, see the README). The open letters get a
    // partial index in seq order: a page of them, of either status or both, walks it in the order
    // pages follow, and counts read it alone (status included); PostgreSQL 15 cannot walk an index
    // on (status, seq) in seq order for two statuses at once. Resolved letters, most of the table,
    // are read in seq order well enough. Dead letters are written rarely: the writes these indexes
    // slow are few. Building them blocks dead letter writes while it runs: migrate when quiet.
    sql: (t) => `
      CREATE INDEX dead_letters_open ON ${t.deadLetters} (seq) INCLUDE (status) WHERE status IN ('dead', 'parked');
      -- one failure group's letters, from the groups view to its pages
      CREATE INDEX dead_letters_fingerprint ON ${t.deadLetters} (fingerprint, seq);
      -- time windows (since, until): recent failures, for counts and alerts
      CREATE INDEX dead_letters_last_failure ON ${t.deadLetters} (last_failure_at);
    `,
  },
];
