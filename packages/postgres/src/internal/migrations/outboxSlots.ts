import { OUTBOX_SLOTS } from '../outbox/slots.js';
import type { Migration } from './migration.js';

/** Version 7: the outbox relayed by slot and watermark instead of per-key claims. */
export const OUTBOX_BY_SLOT: readonly Migration[] = [
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
];
