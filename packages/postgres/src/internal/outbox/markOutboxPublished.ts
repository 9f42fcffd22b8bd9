import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/** Where records are: slot and position. */
export function locateRecords(t: Tables, ids: readonly string[]): Statement {
  return {
    name: `${t.statementPrefix}locate_outbox`,
    text: `SELECT id, slot, txid::text AS txid, seq FROM ${t.outbox} WHERE id = ANY($1::text[])`,
    values: [[...ids]],
  };
}

/** The slots' watermarks, locked until the mark commits (in slot order, as claims lock them: no deadlock). */
export function lockWatermarks(t: Tables, slots: readonly number[]): Statement {
  return {
    name: `${t.statementPrefix}lock_outbox_watermarks`,
    text: `SELECT slot, published_txid::text AS published_txid, published_seq FROM ${t.outboxSlots} WHERE slot = ANY($1::smallint[]) ORDER BY slot FOR UPDATE`,
    values: [[...slots]],
  };
}

/**
 * Every position of each slot between its watermark (excluded) and a bound (included) that is
 * still unpublished, in order, through the relay's partial index `outbox_slot` (the condition
 * `published_at IS NULL` is what lets the planner use it: without it every call read the whole
 * table once per slot). A record published on its own (out of order) breaks no run, so it is not
 * needed here.
 */
export function positionsBetween(t: Tables, ranges: readonly { slot: number; fromTxid: string; fromSeq: string; toTxid: string; toSeq: string }[]): Statement {
  return {
    name: `${t.statementPrefix}outbox_positions_between`,
    text: `SELECT s.slot, p.txid::text AS txid, p.seq
      FROM unnest($1::smallint[], $2::xid8[], $3::bigint[], $4::xid8[], $5::bigint[]) AS s(slot, ftx, fseq, ttx, tseq)
      CROSS JOIN LATERAL (
        SELECT o.txid, o.seq FROM ${t.outbox} o
        WHERE o.slot = s.slot AND (o.txid, o.seq) > (s.ftx, s.fseq) AND (o.txid, o.seq) <= (s.ttx, s.tseq) AND o.published_at IS NULL
        ORDER BY o.txid, o.seq
      ) p`,
    values: [ranges.map((r) => r.slot), ranges.map((r) => r.fromTxid), ranges.map((r) => r.fromSeq), ranges.map((r) => r.toTxid), ranges.map((r) => r.toSeq)],
  };
}

/**
 * Moves each slot's watermark up to its new position (never down), records when (database clock),
 * and ends the relay's lease on the slots listed in `release`.
 */
export function advanceWatermarks(t: Tables, options: { relayId: string; moves: readonly { slot: number; txid: string; seq: string }[]; release: readonly number[] }): Statement {
  const { moves } = options;
  return {
    name: `${t.statementPrefix}advance_outbox_watermarks`,
    text: `WITH moves AS (
        SELECT * FROM unnest($2::smallint[], $3::xid8[], $4::bigint[]) AS m(slot, txid, seq)
      ), moved AS (
        UPDATE ${t.outboxSlots} s SET
          published_txid = m.txid, published_seq = m.seq,
          relay_id = CASE WHEN s.slot = ANY($5::smallint[]) AND s.relay_id = $1 THEN NULL ELSE s.relay_id END,
          lease_expires_at = CASE WHEN s.slot = ANY($5::smallint[]) AND s.relay_id = $1 THEN NULL ELSE s.lease_expires_at END
        FROM moves m
        WHERE s.slot = m.slot AND (m.txid, m.seq) > (s.published_txid, s.published_seq)
        RETURNING s.slot, m.txid, m.seq
      )
      INSERT INTO ${t.outboxMarks} (slot, up_to_txid, up_to_seq, published_at)
      SELECT slot, txid, seq, ${NOW_MS} FROM moved
      ON CONFLICT DO NOTHING`,
    values: [options.relayId, moves.map((m) => m.slot), moves.map((m) => m.txid), moves.map((m) => m.seq), [...options.release]],
  };
}

/** Stamps records published on their own: marked while an earlier record of their slot still waits. */
export function markOutOfOrder(t: Tables, ids: readonly string[]): Statement {
  return {
    name: `${t.statementPrefix}mark_outbox_out_of_order`,
    text: `UPDATE ${t.outbox} SET published_at = ${NOW_MS} WHERE id = ANY($1::text[]) AND published_at IS NULL`,
    values: [[...ids]],
  };
}
