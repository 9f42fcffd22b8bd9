import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/*
 * The outbox's repair after a move (see findForeignIds.ts), run in order in one transaction that
 * holds the outbox's tables in EXCLUSIVE mode (no append, claim or mark runs meanwhile) with
 * `xmax` read after the locks were granted. It works on the slots that hold a foreign value
 * (watermark, unpublished row or watermark move), each as a whole:
 * 1. every unpublished row at or below the slot's watermark (published by it) is stamped published
 *    on its own, when the first move that covered it says (else now), as out-of-order records are
 *    — except a row this cluster wrote ({@link writtenHere}: appended after the move, by a process
 *    of the previous release or one left running, below the copied watermark, never relayed);
 * 2. the slot's watermark moves are deleted: no unstamped row lies at or below them any more;
 * 3. the slot's unpublished rows (above its watermark, and those this cluster wrote) are renumbered
 *    to txid 0 and fresh seqs above every seq used so far, the copied ones first in their (txid,
 *    seq) order, then this cluster's in theirs (they were appended after the copy);
 * 4. the slot's watermark is reset to (0, 0), below every renumbered row.
 * So a published row stays published (by its stamp), an unpublished one stays unpublished, in its
 * order, and below every row appended later: an append's txid is its transaction's id (or its
 * slot's newest unpublished txid, now 0), above 0, and claimable once it commits.
 * Rows stamped published keep their txid: nothing orders or selects stamped rows by it.
 */

/**
 * Whether a row (alias `row`) was written by this cluster: its txid is below the cluster's next id
 * (`$1`) and is its own writer's (the tuple's xmin, the 32-bit form of the inserting transaction's
 * id). A copied row's xmin is the restoring (or replicating) transaction's, not its txid. Rows are
 * inserted once and not updated until stamped, so the test holds for unstamped rows and letters
 * never changed since.
 */
export function writtenHere(row: string): string {
  return `(${row}.txid < $1::xid8 AND ${row}.txid::text::numeric % 4294967296 = ${row}.xmin::text::numeric)`;
}

/** The slots holding a foreign value: a watermark, an unpublished row, a watermark move. */
export function foreignSlots(t: Tables, xmax: string): Statement {
  return {
    text: `SELECT s.slot FROM ${t.outboxSlots} s
      WHERE s.published_txid >= $1::xid8
        OR EXISTS (SELECT 1 FROM ${t.outbox} o WHERE o.slot = s.slot AND o.txid >= $1::xid8 AND o.published_at IS NULL)
        OR EXISTS (SELECT 1 FROM ${t.outboxMarks} m WHERE m.slot = s.slot AND m.up_to_txid >= $1::xid8)
      ORDER BY s.slot`,
    values: [xmax],
  };
}

/** Step 1: stamps the rows the slots' watermarks published (copied rows only). */
export function stampPublished(t: Tables, xmax: string, slots: readonly number[]): Statement {
  return {
    text: `UPDATE ${t.outbox} o SET published_at = coalesce((
        SELECT m.published_at FROM ${t.outboxMarks} m
        WHERE m.slot = o.slot AND (m.up_to_txid, m.up_to_seq) >= (o.txid, o.seq)
        ORDER BY m.up_to_txid, m.up_to_seq LIMIT 1
      ), ${NOW_MS})
      FROM ${t.outboxSlots} s
      WHERE s.slot = ANY($2::smallint[]) AND o.slot = s.slot AND o.published_at IS NULL
        AND (o.txid, o.seq) <= (s.published_txid, s.published_seq) AND NOT ${writtenHere('o')}`,
    values: [xmax, [...slots]],
  };
}

/** Step 2: the slots' watermark moves. */
export function deleteMarks(t: Tables, slots: readonly number[]): Statement {
  return { text: `DELETE FROM ${t.outboxMarks} WHERE slot = ANY($1::smallint[])`, values: [[...slots]] };
}

/** Step 3: the slots' unpublished rows, in order, at txid 0 with fresh seqs. */
export function renumberPending(t: Tables, xmax: string, slots: readonly number[]): Statement {
  return {
    text: renumber(t.outbox, `slot = ANY($2::smallint[]) AND published_at IS NULL`),
    values: [xmax, [...slots]],
  };
}

/** Step 4: the slots' watermarks, below every row. */
export function resetWatermarks(t: Tables, slots: readonly number[]): Statement {
  return {
    text: `UPDATE ${t.outboxSlots} SET published_txid = '0'::xid8, published_seq = 0 WHERE slot = ANY($1::smallint[])`,
    values: [[...slots]],
  };
}

/**
 * An UPDATE giving the rows of `table` that `where` selects txid 0 and new seqs above every seq
 * the table and its sequence have used: the copied rows first, in their (txid, seq) order, then
 * those this cluster wrote ({@link writtenHere}, with the cluster's next id as `$1`), in theirs.
 * The new seqs are all unused, so no row's new key meets another's on the way. Run
 * {@link advanceSequence} after it.
 */
export function renumber(table: string, where: string): string {
  return `WITH moved AS (
      SELECT seq, row_number() OVER (ORDER BY ${writtenHere(table)}, txid, seq) AS n FROM ${table} WHERE ${where}
    ), base AS (
      SELECT greatest(
        (SELECT max(seq) FROM ${table}),
        pg_sequence_last_value(pg_get_serial_sequence('${table}', 'seq')::regclass),
        0) AS top
    )
    UPDATE ${table} r SET txid = '0'::xid8, seq = base.top + moved.n
    FROM moved, base WHERE r.seq = moved.seq`;
}

/** Sets the seq sequence of `table` past its largest seq (never back). */
export function advanceSequence(table: string): Statement {
  return {
    text: `SELECT setval(pg_get_serial_sequence('${table}', 'seq'), greatest(
        (SELECT max(seq) FROM ${table}),
        pg_sequence_last_value(pg_get_serial_sequence('${table}', 'seq')::regclass),
        1))`,
    values: [],
  };
}
