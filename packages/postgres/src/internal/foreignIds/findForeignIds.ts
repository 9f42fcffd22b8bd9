import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** A row of {@link findForeignIds}: the cluster's next transaction id, then counts of what lies at or above it. */
export interface ForeignIdsRow {
  readonly xmax: string;
  /** Outbox rows without a publication stamp of their own (unpublished, or published by their watermark). */
  readonly outbox_rows: number;
  /** Slot watermarks. */
  readonly watermarks: number;
  /** Recorded watermark moves. */
  readonly marks: number;
  readonly dead_letters: number;
}

/*
 * Every transaction id this cluster assigned is below its snapshot's xmax (the first id not yet
 * assigned), and every txid the stores write is one of those or copied from a committed row, so a
 * committed value at or above xmax was written by another cluster and copied here (pg_dump and
 * pg_restore, logical replication). Such a value lies above every id this cluster will assign for
 * a long time: a watermark there covers every new outbox row (which would count as published and
 * never be relayed), and rows and letters there wait for the counter to reach them.
 */

/**
 * Counts the values at or above the cluster's xmax where they change what the stores do: the
 * outbox's rows without a stamp of their own (unpublished, or published by the watermark) and
 * watermarks, the recorded watermark moves (retention deletes the
 * unstamped rows at or below them), the dead letters (pages show only those below the watermark).
 * Rows published on their own stamp are never ordered again: their txid does not matter. `xmax`
 * (read by {@link clusterXmax} just before) is a parameter, so the planner sees the value and, on a
 * database that never moved, reads an empty range of an index for every count (one probe per slot).
 */
export function findForeignIds(t: Tables, xmax: string): Statement {
  return {
    name: `${t.statementPrefix}find_foreign_ids`,
    text: `WITH x AS (SELECT $1::xid8 AS xmax)
      SELECT x.xmax::text AS xmax,
        (SELECT count(*) FROM ${t.outboxSlots} s CROSS JOIN LATERAL (
          SELECT 1 FROM ${t.outbox} o WHERE o.slot = s.slot AND o.txid >= x.xmax AND o.published_at IS NULL) o)::int AS outbox_rows,
        (SELECT count(*) FROM ${t.outboxSlots} s WHERE s.published_txid >= x.xmax)::int AS watermarks,
        (SELECT count(*) FROM ${t.outboxSlots} s CROSS JOIN LATERAL (
          SELECT 1 FROM ${t.outboxMarks} m WHERE m.slot = s.slot AND m.up_to_txid >= x.xmax) m)::int AS marks,
        (SELECT count(*) FROM ${t.deadLetters} d WHERE d.txid >= x.xmax)::int AS dead_letters
      FROM x`,
    values: [xmax],
  };
}

/** The cluster's next transaction id (every id it assigned is below it), as text. */
export function clusterXmax(): Statement {
  return { text: 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax', values: [] };
}

/** Whether a row of {@link findForeignIds} found anything. */
export function anyForeign(row: ForeignIdsRow): boolean {
  return row.outbox_rows + row.watermarks + row.marks + row.dead_letters > 0;
}
