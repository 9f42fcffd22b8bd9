import type { Migration } from '../internal/migrate.js';

/**
 * The stores' tables. Outbox and inbox rows carry an integer `seq` (the rowid) so they keep append
 * order and retention can delete a prefix without scanning; the partial index holds only unpublished
 * outbox rows, which is what the relay reads.
 */
export const STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE herald_outbox (
         seq INTEGER PRIMARY KEY,
         id TEXT NOT NULL UNIQUE,
         topic TEXT NOT NULL,
         key TEXT NOT NULL,
         type TEXT NOT NULL,
         correlation_id TEXT NOT NULL,
         value TEXT NOT NULL,
         headers TEXT,
         created_at INTEGER NOT NULL,
         published_at INTEGER,
         claimed_by TEXT,
         claim_expires_at INTEGER
       )`,
      `CREATE INDEX herald_outbox_unpublished ON herald_outbox (seq) WHERE published_at IS NULL`,
      `CREATE INDEX herald_outbox_correlation ON herald_outbox (correlation_id, seq)`,
      `CREATE TABLE herald_inbox (
         seq INTEGER PRIMARY KEY,
         event_id TEXT NOT NULL,
         group_name TEXT NOT NULL,
         handled_at INTEGER NOT NULL,
         UNIQUE (event_id, group_name)
       )`,
      `CREATE TABLE herald_dead_letters (
         seq INTEGER PRIMARY KEY,
         id TEXT NOT NULL UNIQUE,
         group_name TEXT NOT NULL,
         handler TEXT NOT NULL,
         event_id TEXT,
         event_type TEXT,
         topic TEXT NOT NULL,
         partition INTEGER NOT NULL,
         record_offset INTEGER NOT NULL,
         key TEXT NOT NULL,
         reason TEXT NOT NULL,
         error TEXT NOT NULL,
         attempts INTEGER NOT NULL,
         first_failure_at INTEGER NOT NULL,
         last_failure_at INTEGER NOT NULL,
         envelope TEXT NOT NULL,
         headers TEXT,
         policy TEXT NOT NULL,
         status TEXT NOT NULL
       )`,
      `CREATE INDEX herald_dead_letters_group ON herald_dead_letters (group_name, status, seq)`,
      `CREATE INDEX herald_dead_letters_parked ON herald_dead_letters (group_name, topic, key)
         WHERE policy = 'park-key' AND status IN ('dead', 'parked')`,
      `CREATE TABLE herald_idempotency (
         key TEXT PRIMARY KEY,
         fingerprint TEXT NOT NULL,
         state TEXT NOT NULL,
         response TEXT,
         created_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL
       ) WITHOUT ROWID`,
      `CREATE INDEX herald_idempotency_expiry ON herald_idempotency (expires_at)`,
    ],
  },
  {
    // dead letters grouped by how they failed (the read side), and when they were resolved (retention)
    version: 2,
    statements: [
      `ALTER TABLE herald_dead_letters ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''`,
      `ALTER TABLE herald_dead_letters ADD COLUMN resolved_at INTEGER`,
      `CREATE INDEX herald_dead_letters_resolved ON herald_dead_letters (resolved_at) WHERE resolved_at IS NOT NULL`,
    ],
  },
  {
    // the operator's read side (DeadLetterBrowser): the views it opens most, in paging order
    version: 3,
    statements: [
      // open letters across groups (status IN ('dead', 'parked')); the group index leads with group_name
      `CREATE INDEX herald_dead_letters_status ON herald_dead_letters (status, seq)`,
      // one failure group's letters, from the groups view to its pages
      `CREATE INDEX herald_dead_letters_fingerprint ON herald_dead_letters (fingerprint, seq)`,
      // time windows (since / until): recent failures, for counts and alerts
      `CREATE INDEX herald_dead_letters_last_failure ON herald_dead_letters (last_failure_at)`,
    ],
  },
];
