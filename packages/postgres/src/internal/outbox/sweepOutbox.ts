import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/**
 * Retention: deletes up to `limit` records published more than `retentionMs` ago by the database
 * clock: per slot, those at or below the newest watermark move older than that (the old moves
 * found through `outbox_marks_published`, the rows through the relay's index), and records
 * published on their own (out of order, or before the outbox had slots) by their own stamp. A
 * record another transaction holds is skipped, not waited for, so sweeps in several processes
 * split the work. The locked rows are deleted by their address.
 */
export function sweepOutbox(t: Tables, options: { retentionMs: number; limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.outbox} WHERE ctid = ANY(ARRAY(
        SELECT o.ctid FROM (
          SELECT DISTINCT ON (slot) slot, up_to_txid, up_to_seq FROM ${t.outboxMarks}
          WHERE published_at < ${NOW_MS} - $1::bigint
          ORDER BY slot, up_to_txid DESC, up_to_seq DESC
        ) m
        JOIN ${t.outbox} o ON o.slot = m.slot AND (o.txid, o.seq) <= (m.up_to_txid, m.up_to_seq) AND o.published_at IS NULL
        LIMIT $2 FOR UPDATE OF o SKIP LOCKED)
      || ARRAY(
        SELECT ctid FROM ${t.outbox} WHERE published_at IS NOT NULL AND published_at < ${NOW_MS} - $1::bigint
        ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    values: [Math.floor(options.retentionMs), options.limit],
  };
}

/**
 * Deletes up to `limit` watermark moves older than `retentionMs` that no kept record needs: only a
 * record without a stamp of its own (published by the watermark) needs one, so the check reads
 * those through the relay's index `outbox_slot` (one probe per old mark, found through
 * `outbox_marks_published`: neither reads the whole table).
 */
export function sweepOutboxMarks(t: Tables, options: { retentionMs: number; limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.outboxMarks} WHERE ctid = ANY(ARRAY(
        SELECT m.ctid FROM ${t.outboxMarks} m
        WHERE m.published_at < ${NOW_MS} - $1::bigint
          AND NOT EXISTS (SELECT 1 FROM ${t.outbox} o WHERE o.slot = m.slot AND (o.txid, o.seq) <= (m.up_to_txid, m.up_to_seq) AND o.published_at IS NULL)
        LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    values: [Math.floor(options.retentionMs), options.limit],
  };
}
