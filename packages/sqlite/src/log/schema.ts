import type { Migration } from '../internal/migrate.js';

/**
 * The embedded log's tables. A partition is a row of `herald_partitions` with a small integer id
 * (`pid`) that records, leases and offsets refer to; its `next_offset` is the head (dense offsets:
 * the next record gets it) and `start_offset` the first record retention kept. Records are keyed
 * by (pid, position) in one b-tree, so a fetch is a range scan.
 */
export const LOG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE herald_log_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`,
      `INSERT INTO herald_log_meta (name, value) VALUES ('topology', 0)`,
      `CREATE TABLE herald_topics (
         name TEXT PRIMARY KEY,
         partitions INTEGER NOT NULL,
         retention_ms INTEGER,
         retention_bytes INTEGER,
         created_at INTEGER NOT NULL
       ) WITHOUT ROWID`,
      `CREATE TABLE herald_partitions (
         pid INTEGER PRIMARY KEY,
         topic TEXT NOT NULL,
         partition INTEGER NOT NULL,
         next_offset INTEGER NOT NULL DEFAULT 0,
         start_offset INTEGER NOT NULL DEFAULT 0,
         bytes INTEGER NOT NULL DEFAULT 0,
         UNIQUE (topic, partition)
       )`,
      `CREATE TABLE herald_records (
         pid INTEGER NOT NULL,
         position INTEGER NOT NULL,
         key TEXT NOT NULL,
         value TEXT NOT NULL,
         headers TEXT,
         timestamp INTEGER NOT NULL,
         size INTEGER NOT NULL,
         PRIMARY KEY (pid, position)
       ) WITHOUT ROWID`,
      `CREATE TABLE herald_members (
         group_name TEXT NOT NULL,
         member_id TEXT NOT NULL,
         topics TEXT NOT NULL,
         heartbeat_at INTEGER NOT NULL,
         PRIMARY KEY (group_name, member_id)
       ) WITHOUT ROWID`,
      // member_id NULL = free; epoch grows on every acquisition and fences commits of former owners
      `CREATE TABLE herald_leases (
         group_name TEXT NOT NULL,
         pid INTEGER NOT NULL,
         member_id TEXT,
         epoch INTEGER NOT NULL,
         PRIMARY KEY (group_name, pid)
       ) WITHOUT ROWID`,
      `CREATE TABLE herald_offsets (
         group_name TEXT NOT NULL,
         pid INTEGER NOT NULL,
         next_offset INTEGER NOT NULL,
         PRIMARY KEY (group_name, pid)
       ) WITHOUT ROWID`,
    ],
  },
  {
    // each member's own session: processes sharing the file (the app's, the CLI's) may be
    // configured differently, and a member is live by its own timeout, not by the reader's
    version: 2,
    statements: [`ALTER TABLE herald_members ADD COLUMN session_timeout_ms INTEGER`],
  },
  {
    // the retention the app's sweep applies to topics that declare none (its handle's
    // `retentionMs`/`retentionBytes`; NULL: no limit), so a reader opened with other defaults (the
    // CLI's) reports what the app really keeps
    version: 3,
    statements: [`CREATE TABLE herald_log_defaults (name TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID`],
  },
  {
    // offsets retention (see offsetsRetention.ts): when the group last showed it uses the position
    // (written, or a member seen live by a sweep). NULL for rows written before, and for those a
    // process of the earlier release still running writes: a sweep stamps them, never expires them
    version: 4,
    statements: [`ALTER TABLE herald_offsets ADD COLUMN active_at INTEGER`],
  },
];
