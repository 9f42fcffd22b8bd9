import type Database from 'better-sqlite3';
import type { Migration } from '../internal/migrate.js';
import { OUTBOX_SLOTS, outboxSlot } from './slots.js';

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
  {
    // The outbox by slot (a hash of the key, as Kafka places keys): a relay leases the slots it
    // publishes from and marks a slot published up to a position (its watermark) instead of
    // updating every row it claimed and every row it published. A row is published when its seq is
    // at or below its slot's watermark; `herald_outbox_marks` remembers when each watermark moved
    // (workflow views show when an event was published). Rows published before keep their
    // `published_at`. `seq` must only grow: retention never deletes the newest row (rowid reuse).
    version: 4,
    statements: [
      `ALTER TABLE herald_outbox ADD COLUMN slot INTEGER NOT NULL DEFAULT 0`,
      `CREATE TABLE herald_outbox_slots (
         slot INTEGER PRIMARY KEY,
         published_seq INTEGER NOT NULL,
         relay_id TEXT,
         lease_expires_at INTEGER
       )`,
      `CREATE TABLE herald_outbox_marks (
         slot INTEGER NOT NULL,
         up_to_seq INTEGER NOT NULL,
         published_at INTEGER NOT NULL,
         PRIMARY KEY (slot, up_to_seq)
       ) WITHOUT ROWID`,
      `DROP INDEX herald_outbox_unpublished`,
    ],
    run: slotExistingRows,
  },
  {
    // after the rows have their slots: a relay reads its slots' pending rows in order through this
    version: 5,
    statements: [`CREATE INDEX herald_outbox_slot ON herald_outbox (slot, seq) WHERE published_at IS NULL`],
  },
  {
    // Durable timers: an event scheduled for later waits here (its outbox record in the outbox's
    // own columns) until the scheduler moves it into the outbox; `seq` orders timers due at the
    // same time as they were scheduled. Saga instances: one row per (saga, instance), the state
    // as JSON, `version` for compare-and-set saves.
    version: 6,
    statements: [
      `CREATE TABLE herald_timers (
         seq INTEGER PRIMARY KEY,
         timer_id TEXT NOT NULL UNIQUE,
         due_at INTEGER NOT NULL,
         id TEXT NOT NULL,
         topic TEXT NOT NULL,
         key TEXT NOT NULL,
         type TEXT NOT NULL,
         correlation_id TEXT NOT NULL,
         value TEXT NOT NULL,
         headers TEXT,
         created_at INTEGER NOT NULL
       )`,
      `CREATE INDEX herald_timers_due ON herald_timers (due_at, seq)`,
      `CREATE TABLE herald_sagas (
         saga TEXT NOT NULL,
         instance_id TEXT NOT NULL,
         status TEXT NOT NULL,
         version INTEGER NOT NULL,
         state TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (saga, instance_id)
       ) WITHOUT ROWID`,
      `CREATE INDEX herald_sagas_status ON herald_sagas (saga, status, updated_at)`,
    ],
  },
  {
    // window state of the stream package's aggregations: each partition's stream time and late
    // count, and the open windows by key and start; closing reads a partition's windows by closeAt
    version: 7,
    statements: [
      `CREATE TABLE herald_window_partitions (
         store TEXT NOT NULL,
         partition INTEGER NOT NULL,
         stream_time INTEGER,
         late INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (store, partition)
       ) WITHOUT ROWID`,
      `CREATE TABLE herald_windows (
         store TEXT NOT NULL,
         partition INTEGER NOT NULL,
         key TEXT NOT NULL,
         start_at INTEGER NOT NULL,
         end_at INTEGER NOT NULL,
         close_at INTEGER NOT NULL,
         value TEXT NOT NULL,
         PRIMARY KEY (store, partition, key, start_at)
       ) WITHOUT ROWID`,
      `CREATE INDEX herald_windows_close ON herald_windows (store, partition, close_at)`,
    ],
  },
  {
    // The slot index cost every outbox insert a third B-tree insert spread over 16 places (~2 µs of
    // the ~6 µs an append took under load) for two rare readers: the backlog count and a relay's
    // mark of records it did not claim as one run. Both read the rowid range above the lowest
    // watermark instead; the relay's claims always did.
    version: 8,
    statements: ['DROP INDEX herald_outbox_slot'],
  },
  {
    // Idempotency keys held by one attempt at a time: the owner token of the attempt holding an
    // in-flight key (only it may complete or abandon it) and when its lease runs out (then a retry
    // takes the key over). Keys in flight before this version have no owner, so only a takeover
    // can finish them: their lease is the gateway's default 60 s from when they were taken.
    version: 9,
    statements: [
      'ALTER TABLE herald_idempotency ADD COLUMN owner TEXT',
      'ALTER TABLE herald_idempotency ADD COLUMN lease_expires_at INTEGER NOT NULL DEFAULT 0',
      "UPDATE herald_idempotency SET lease_expires_at = created_at + 60000 WHERE state = 'in-flight'",
    ],
  },
  {
    // Retention of saga instances: the ones it may delete (finished; never one awaiting its start),
    // oldest save first. `herald_sagas_status` leads with the saga's name, so a sweep across sagas
    // could only scan it whole; this index holds no running instance, so the saves of a running
    // saga do not write it. Its entries carry the primary key (a WITHOUT ROWID table), which is
    // what the sweep deletes by. The statuses are the sweep's (PURGE_SAGAS_SQL in sagas.ts), word
    // for word: SQLite uses a partial index only for a query that repeats its condition.
    version: 10,
    statements: [`CREATE INDEX herald_sagas_finished ON herald_sagas (updated_at) WHERE status IN ('completed', 'failed')`],
  },
  {
    // The census of instances in flight (the metrics read it every 10 s): per saga and status, how
    // many and the oldest first save. `herald_sagas_status` holds every instance ever kept and not
    // `created_at`, so the census read it whole and every row besides; this index holds only the
    // instances in flight, in the census's order, with what it reads (a covering index). The
    // statuses are the census's (IN_FLIGHT_SQL in sagas.ts), word for word: SQLite uses a partial
    // index only for a query that repeats its condition. Building it reads the table once.
    version: 11,
    statements: [`CREATE INDEX herald_sagas_in_flight ON herald_sagas (saga, status, created_at) WHERE status IN ('running', 'awaiting-start')`],
  },
  {
    // One open letter per record and group: an add looks for the record's open letter through this
    // index (its condition word for word in the look-up) and adds nothing when there is one. It is
    // not UNIQUE: a file may hold such duplicates already, added before this version (a record
    // dead-lettered again after a redelivery); each stays as it is, an accepted letter an operator
    // may be acting on, and the add's look-up (inside the write transaction, which writers take
    // in turn) keeps new ones out. Open letters are few: the index costs an add little.
    version: 12,
    statements: [
      `CREATE INDEX herald_dead_letters_open ON herald_dead_letters (group_name, topic, partition, record_offset) WHERE status IN ('dead', 'parked')`,
    ],
  },
  {
    // A group's letters of one key: the consumer's park-key path lists them (dead, then parked) four
    // times for every delivery of a held key, and the stream package's result dead-lettering once
    // per result (by handler and key, any status). The group index gave them every letter of the
    // group in that status, or every letter of the group (resolved ones too, kept 30 days) without
    // one: 0.6 and 4.7 ms at 60,000 letters, growing with the table. The key is indexed whole: SQLite
    // has no limit on an entry's size (a long key spills to overflow pages), and a letter holds its
    // key twice already (the column and the envelope). Building it reads the table once.
    version: 13,
    statements: ['CREATE INDEX herald_dead_letters_key ON herald_dead_letters (group_name, key, status)'],
  },
];

/**
 * Gives every existing row its slot and each slot its watermark: just below its oldest unpublished
 * row, or at the newest row when none waits. Rows of the slot published after it keep their
 * `published_at`: a record published out of order is skipped, not sent again.
 */
function slotExistingRows(db: Database.Database): void {
  const setSlot = db.prepare('UPDATE herald_outbox SET slot = ? WHERE key = ?');
  for (const key of db.prepare<[], string>('SELECT DISTINCT key FROM herald_outbox').pluck().all()) setSlot.run(outboxSlot(key), key);
  const newest = db.prepare<[], number | null>('SELECT max(seq) FROM herald_outbox').pluck().get() ?? 0;
  const oldestWaiting = db.prepare<[number], number | null>('SELECT min(seq) FROM herald_outbox WHERE slot = ? AND published_at IS NULL').pluck();
  const insert = db.prepare('INSERT INTO herald_outbox_slots (slot, published_seq) VALUES (?, ?)');
  for (let slot = 0; slot < OUTBOX_SLOTS; slot++) {
    const waiting = oldestWaiting.get(slot);
    insert.run(slot, waiting === null || waiting === undefined ? newest : waiting - 1);
  }
}
