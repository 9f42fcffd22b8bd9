import type { Migration } from './migration.js';

/**
 * Versions 13-14: dead letters of any key and value (kept as bytes), and dead letter pages in
 * transaction order below a watermark.
 */
export const DEAD_LETTER_BYTES_AND_PAGES: readonly Migration[] = [
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
