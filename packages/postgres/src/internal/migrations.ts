import { EARLIER_RELEASE_LEASE_MS } from '@herald/sql';
import { OUTBOX_SLOTS } from './outbox/slots.js';
import { NOW_MS, type Tables } from './tables.js';

/**
 * One schema change. Versions only grow; a released migration is never edited, but to correct how
 * it gets to the same schema (version 7: what it stamps on the rows it finds). Its statements run
 * under the migration lock and create with plain `CREATE`: `migrate` sends the text as one query
 * and maps its failure by the whole text, so an `IF NOT EXISTS` anywhere in it would make a name
 * clash in any of its statements read as a race with a concurrent session, and be retried.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (t: Tables) => string;
}


/**
 * The stores' schema, as versioned migrations. Times are epoch milliseconds (`bigint`), JSON is kept
 * as `text` so it reads back byte for byte (jsonb would reorder keys of stored responses).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'outbox, claims, inbox, dead letters, idempotency keys',
    sql: (t) => `
      CREATE TABLE ${t.outbox} (
        seq            bigserial PRIMARY KEY,
        id             text NOT NULL UNIQUE,
        topic          text NOT NULL,
        key            text NOT NULL,
        type           text NOT NULL,
        correlation_id text NOT NULL,
        value          text NOT NULL,
        headers        text NOT NULL,
        created_at     bigint NOT NULL,
        published_at   bigint
      );
      -- the relay's scan: pending rows in append order, and each key's earliest pending row
      CREATE INDEX outbox_pending_seq ON ${t.outbox} (seq) WHERE published_at IS NULL;
      CREATE INDEX outbox_pending_key ON ${t.outbox} (topic, key, seq) WHERE published_at IS NULL;
      CREATE INDEX outbox_correlation ON ${t.outbox} (correlation_id, seq);
      CREATE INDEX outbox_published ON ${t.outbox} (published_at) WHERE published_at IS NOT NULL;

      -- one row per (topic, key) a relay currently holds
      CREATE TABLE ${t.outboxClaims} (
        topic      text NOT NULL,
        key        text NOT NULL,
        relay_id   text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (topic, key)
      );

      CREATE TABLE ${t.inbox} (
        event_id   text NOT NULL,
        group_name text NOT NULL,
        handled_at bigint NOT NULL,
        PRIMARY KEY (event_id, group_name)
      );

      CREATE TABLE ${t.deadLetters} (
        seq              bigserial PRIMARY KEY,
        id               text NOT NULL UNIQUE,
        group_name       text NOT NULL,
        handler          text NOT NULL,
        event_id         text,
        event_type       text,
        topic            text NOT NULL,
        partition        integer NOT NULL,
        log_offset       bigint NOT NULL,
        key              text NOT NULL,
        reason           text NOT NULL,
        error            text NOT NULL,
        attempts         integer NOT NULL,
        first_failure_at bigint NOT NULL,
        last_failure_at  bigint NOT NULL,
        envelope         text NOT NULL,
        headers          text NOT NULL,
        policy           text NOT NULL CHECK (policy IN ('skip', 'park-key')),
        status           text NOT NULL CHECK (status IN ('dead', 'parked', 'redriven'))
      );
      CREATE INDEX dead_letters_group ON ${t.deadLetters} (group_name, seq);
      -- isKeyParked reads only this small index: the letters that currently hold a key back
      CREATE INDEX dead_letters_parked ON ${t.deadLetters} (group_name, topic, key)
        WHERE policy = 'park-key' AND status IN ('dead', 'parked');

      CREATE TABLE ${t.idempotency} (
        key         text PRIMARY KEY,
        fingerprint text NOT NULL,
        state       text NOT NULL CHECK (state IN ('in-flight', 'completed')),
        response    text,
        created_at  bigint NOT NULL,
        expires_at  bigint NOT NULL
      );
      CREATE INDEX idempotency_keys_expiry ON ${t.idempotency} (expires_at);
    `,
  },
  {
    version: 2,
    name: 'drop outbox_pending_key',
    // No statement needs it (claims find each key's head by seq), and the planner, given a generic
    // plan over an outbox that was empty when analysed, used it for the heads' seq lookups: a scan
    // of the whole index per key, 0.4 ms each. One index less also makes every append cheaper.
    sql: (t) => `DROP INDEX IF EXISTS ${t.schema}.outbox_pending_key;`,
  },
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
  {
    version: 7,
    name: 'the outbox by slot, with watermarks',
    // Relays lease slots (a hash of the key: one key's rows are in one slot) and move each slot's
    // watermark over what they published, instead of claiming keys row by row and updating every
    // row they publish. Rows are ordered by (txid, seq): the transaction that appended them, then
    // the append order. A relay only takes rows of transactions older than every running one
    // (pg_snapshot_xmin), so no row can ever commit below a watermark: a bigserial alone would let
    // a slow transaction commit a lower seq after a higher one was published. A row is published
    // when it is at or below its slot's watermark; `outbox_marks` keeps when each watermark moved
    // (workflow views). Rows published before keep their `published_at`; the oldest unpublished
    // row of each slot and what waits after it are relayed; a record published out of order (a
    // relay marking part of its claim, or before this migration) keeps a `published_at` of its own
    // and is skipped. Rewrites the outbox table (two new columns).
    // The rows already there get txid 0, and so do the watermarks set from them, not this
    // migration's own transaction id: a process of the previous release may be in a transaction
    // that took its id (an inbox mark) before this one and append after it commits; its row gets
    // that older id from the new default, and must land above every watermark to be relayed.
    // (Corrected after release; installs that applied the first text keep their ids: only rows of
    // transactions open during their upgrade were at risk.)
    sql: (t) => `
      ALTER TABLE ${t.outbox}
        ADD COLUMN slot smallint GENERATED ALWAYS AS ((hashtextextended(key, 0) & ${OUTBOX_SLOTS - 1})::smallint) STORED,
        ADD COLUMN txid xid8 NOT NULL DEFAULT '0'::xid8;
      ALTER TABLE ${t.outbox} ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
      CREATE INDEX outbox_slot ON ${t.outbox} (slot, txid, seq) WHERE published_at IS NULL;
      CREATE TABLE ${t.outboxSlots} (
        slot             smallint PRIMARY KEY,
        published_txid   xid8 NOT NULL,
        published_seq    bigint NOT NULL,
        relay_id         text,
        lease_expires_at bigint
      );
      CREATE TABLE ${t.outboxMarks} (
        slot         smallint NOT NULL,
        up_to_txid   xid8 NOT NULL,
        up_to_seq    bigint NOT NULL,
        published_at bigint NOT NULL,
        PRIMARY KEY (slot, up_to_txid, up_to_seq)
      );
      INSERT INTO ${t.outboxSlots} (slot, published_txid, published_seq)
      SELECT s.slot, coalesce(w.txid, n.txid, '0'::xid8), coalesce(w.seq - 1, n.seq, 0)
      FROM generate_series(0, ${OUTBOX_SLOTS - 1}) AS s(slot)
      LEFT JOIN LATERAL (SELECT txid, seq FROM ${t.outbox} o WHERE o.slot = s.slot AND o.published_at IS NULL ORDER BY txid, seq LIMIT 1) w ON true
      LEFT JOIN LATERAL (SELECT txid, seq FROM ${t.outbox} o WHERE o.slot = s.slot ORDER BY txid DESC, seq DESC LIMIT 1) n ON true;
      DROP INDEX ${t.schema}.outbox_pending_seq;
      DROP TABLE ${t.outboxClaims};
    `,
  },
  {
    version: 8,
    name: 'timers and saga instances',
    // Durable timers: an event scheduled for later waits in `timers` (its outbox record in the
    // outbox's own columns) until a scheduler moves it into the outbox; schedulers take due rows
    // with FOR UPDATE SKIP LOCKED, oldest due first through `timers_due` (`seq` orders equal due
    // times as scheduled). Saga instances: one row per (saga, instance), the state as JSON text,
    // `version` for compare-and-set saves; `sagas_status` lets tools count and list by status.
    sql: (t) => `
      CREATE TABLE ${t.timers} (
        seq            bigserial PRIMARY KEY,
        timer_id       text NOT NULL UNIQUE,
        due_at         bigint NOT NULL,
        id             text NOT NULL,
        topic          text NOT NULL,
        key            text NOT NULL,
        type           text NOT NULL,
        correlation_id text NOT NULL,
        value          text NOT NULL,
        headers        text NOT NULL,
        created_at     bigint NOT NULL
      );
      CREATE INDEX timers_due ON ${t.timers} (due_at, seq);
      CREATE TABLE ${t.sagas} (
        saga        text NOT NULL,
        instance_id text NOT NULL,
        status      text NOT NULL,
        version     integer NOT NULL CHECK (version > 0),
        state       text NOT NULL,
        created_at  bigint NOT NULL,
        updated_at  bigint NOT NULL,
        PRIMARY KEY (saga, instance_id)
      );
      CREATE INDEX sagas_status ON ${t.sagas} (saga, status, updated_at);
      `,
    },
    {
    version: 9,
    name: 'window state',
    // The stream package's aggregations: each partition's stream time and late count (its row is
    // the lock an update takes), and the open windows by key and start; closing reads a
    // partition's windows by close time.
    sql: (t) => `
      CREATE TABLE ${t.windowPartitions} (
        store       text NOT NULL,
        partition   integer NOT NULL,
        stream_time bigint,
        late        bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (store, partition)
      );
      CREATE TABLE ${t.windows} (
        store     text NOT NULL,
        partition integer NOT NULL,
        key       text NOT NULL,
        start_at  bigint NOT NULL,
        end_at    bigint NOT NULL,
        close_at  bigint NOT NULL,
        value     text NOT NULL,
        PRIMARY KEY (store, partition, key, start_at)
      );
      CREATE INDEX windows_close ON ${t.windows} (store, partition, close_at);
    `,
  },
  {
    version: 10,
    name: 'idempotency key owners and leases',
    // An idempotency key is held by one attempt at a time: the owner token of the attempt holding
    // an in-flight key (only it may complete or abandon it) and when its lease runs out (then a
    // retry takes the key over). Keys in flight before this version have no owner, so only a
    // takeover can finish them: their lease is the gateway's default 60 s from when they were
    // taken. Adding a column with a constant default rewrites no rows.
    sql: (t) => `
      ALTER TABLE ${t.idempotency} ADD COLUMN owner text, ADD COLUMN lease_expires_at bigint NOT NULL DEFAULT 0;
      UPDATE ${t.idempotency} SET lease_expires_at = created_at + 60000 WHERE state = 'in-flight';
    `,
  },
  {
    version: 11,
    name: 'a live lease for idempotency keys the previous release takes',
    // Processes of the release before version 10, still running in a rolling upgrade, insert keys
    // without lease_expires_at: version 10's default gave them 0, a lease already run out, so a
    // retry reaching an upgraded process took the key over at once and both attempts committed.
    // Their inserts now get a live lease from the default, as version 7's default gives that
    // release's outbox rows their txid (this release always writes the column itself).
    // Which lease: the store's default lease is the key's whole ttlMs, which a column default
    // cannot read (it may not refer to expires_at). That release's own lease was its gateway's
    // default leaseMs, 60 s (a separate lease record; its retries got through once it lapsed), the
    // one version 10 gives keys in flight at the upgrade: an old attempt is held off from upgraded
    // processes as long as its own release held off its retries. A constant of a day (the default
    // ttl) would instead leave the key of an old process that died answering 'in flight' for a
    // day. Stamped by the database clock (as version 7's txid); `begin` compares with the caller's
    // clock, so hosts' clock skew shifts the lease by as much.
    sql: (t) => `
      ALTER TABLE ${t.idempotency} ALTER COLUMN lease_expires_at SET DEFAULT (${NOW_MS} + ${EARLIER_RELEASE_LEASE_MS});
    `,
  },
  {
    version: 12,
    name: 'retention of saga instances',
    // The retention sweep deletes the instances that finished, oldest save first. `sagas_status` leads with the saga's name, so the sweep could only read it
    // whole; this index holds only the instances the sweep may delete (no running one: a running
    // saga's saves do not write it; none awaiting its start, whose events retention never drops). Its condition is the sweep's (sagas/purgeSagas.ts), word for
    // word, so the planner can prove the sweep's rows are in it. Building it blocks saga saves while
    // it runs: on a large sagas table, migrate when quiet.
    sql: (t) => `
      CREATE INDEX sagas_finished ON ${t.sagas} (updated_at) WHERE status IN ('completed', 'failed');
    `,
  },
  {
    version: 13,
    name: 'dead letters of any key and value',
    // A record's key and value come from any producer: a Java LongSerializer key has 0x00 bytes, a
    // Confluent-framed value starts with one, and `text` refuses U+0000, so such a letter could not
    // be added and its delivery was retried for ever (node-postgres also sends a lone surrogate as
    // U+FFFD, silently another key). Such a key or value is now kept exactly in these bytes (UTF-8,
    // a lone surrogate as its own three bytes), the text column holding a display form; both are
    // NULL for every other letter, so adding them rewrites no rows (see storedText.ts).
    // `dead_letters_parked` indexed the key itself, and a B-tree entry is limited to about 2.7 kB:
    // a park-key letter of a longer key could not be added either. It now indexes a hash of the key
    // (the lookup compares the key on the rows it finds). The migration holds the table's ACCESS
    // EXCLUSIVE lock (ADD COLUMN, DROP INDEX) until it commits, the index build included: every read
    // and write of dead letters waits meanwhile, so a park-key group of a running process stalls
    // (its check of each key reads them). It takes as long as reading the table: migrate when
    // quiet if it holds many letters. Processes of an
    // earlier release, whose lookup compares the key itself, still use it, by group and topic,
    // comparing the key on the letters it holds; they read a letter stored with bytes by its
    // display form: redrive such letters from this release.
    sql: (t) => `
      ALTER TABLE ${t.deadLetters} ADD COLUMN key_bytes bytea, ADD COLUMN envelope_bytes bytea;
      DROP INDEX IF EXISTS ${t.schema}.dead_letters_parked;
      CREATE INDEX dead_letters_parked ON ${t.deadLetters} (group_name, topic, hashtextextended(key, 0))
        WHERE policy = 'park-key' AND status IN ('dead', 'parked');
    `,
  },
  {
    version: 14,
    name: 'dead letter pages by transaction, with a watermark',
    // The read side's pages went in seq order, and a seq is drawn at the insert, not the commit: a
    // letter of a transaction still open when an operator paged past a later seq committed behind
    // the cursor and was never shown (nor redriven by a `dlq redrive --all`). Pages now follow
    // (txid, seq), the adding transaction's id then the add, and read only below the oldest
    // running transaction (pg_snapshot_xmin), as the outbox's relays do since version 7 (see
    // deadLetters/pageDeadLetters.ts). The letters already there get txid 0, not this migration's
    // id: they keep their seq order, first, and a process of the previous release in a
    // transaction that took its id before this one may still add a letter after it commits, which
    // must land after them. Re-adding a letter (ON CONFLICT DO UPDATE) leaves its txid. The
    // indexes pages walk are rebuilt on (txid, seq) under their names: the open letters', a
    // fingerprint's and a group's (list() and groups find a group's letters in it as before);
    // pages of every letter get their own. The column needs no rewrite (a constant default), but
    // the migration holds the table's ACCESS EXCLUSIVE lock until it commits, through four index
    // builds that each read the table: every read and write of dead letters waits meanwhile, park-key
    // groups of running processes with them. Migrate when quiet if the table holds many letters.
    // Processes of the previous release add letters as before (the default stamps their txid),
    // and still page in seq order, now sorting what these indexes no longer give in that order.
    sql: (t) => `
      ALTER TABLE ${t.deadLetters} ADD COLUMN txid xid8 NOT NULL DEFAULT '0'::xid8;
      ALTER TABLE ${t.deadLetters} ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
      DROP INDEX ${t.schema}.dead_letters_open;
      CREATE INDEX dead_letters_open ON ${t.deadLetters} (txid, seq) INCLUDE (status) WHERE status IN ('dead', 'parked');
      DROP INDEX ${t.schema}.dead_letters_fingerprint;
      CREATE INDEX dead_letters_fingerprint ON ${t.deadLetters} (fingerprint, txid, seq);
      DROP INDEX ${t.schema}.dead_letters_group;
      CREATE INDEX dead_letters_group ON ${t.deadLetters} (group_name, txid, seq);
      CREATE INDEX dead_letters_txid ON ${t.deadLetters} (txid, seq);
    `,
  },
];
