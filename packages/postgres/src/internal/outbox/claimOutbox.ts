import { OUTBOX_RECORD_COLUMNS, type OutboxRow } from '@herald/sql';
import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/*
 * A claim, in one transaction:
 * 1. {@link lockSlots}: every slot row FOR UPDATE (claims queue here, briefly), the database clock,
 *    and the oldest running transaction (`pg_snapshot_xmin`): only rows of older transactions are
 *    taken, so none can commit below a watermark later.
 * 2-3. {@link claimRows}: across the slots not leased by another relay, the oldest `limit` rows
 *    above their watermarks: each slot's share is the prefix of its pending rows up to a cut.
 * 4. {@link leaseSlots}: leases the slots it took from, and gives up the ones it no longer needs.
 */

/** A row of {@link lockSlots}. xid8 values travel as text. */
export interface SlotRow {
  readonly slot: number;
  readonly published_txid: string;
  readonly published_seq: string | number;
  readonly relay_id: string | null;
  readonly lease_expires_at: string | number | null;
  readonly now: string | number;
  readonly xmin: string;
}

export function lockSlots(t: Tables): Statement {
  return {
    name: `${t.statementPrefix}lock_outbox_slots`,
    text: `SELECT slot, published_txid::text AS published_txid, published_seq, relay_id, lease_expires_at,
        ${NOW_MS} AS now, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin
      FROM ${t.outboxSlots} ORDER BY slot FOR UPDATE`,
    values: [],
  };
}

/** A record row of {@link claimRows}: its slot and position, then the columns `@herald/sql` maps. */
export type PendingRow = OutboxRow & { readonly slot: number; readonly txid: string; readonly seq: string | number };

/**
 * Steps 2 and 3 in one statement: per open slot the first `limit` positions above its watermark
 * (of transactions older than `xmin`; index only), the oldest `limit` of them all, each slot's
 * last position among those (its cut), and the rows of each slot up to its cut, in order. Only
 * the claimed rows leave the server. With `skipKeys` (the keys the relay holds back) their rows are
 * left out of both reads, as a filter on the same index scans (`key <> ALL($6)`: one array however
 * many keys); a separate statement, so a claim skipping nothing keeps its plan.
 */
export function claimRows(
  t: Tables,
  options: { slots: readonly { slot: number; txid: string; seq: string }[]; xmin: string; limit: number; skipKeys?: readonly string[] },
): Statement {
  const columns = OUTBOX_RECORD_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ');
  const skipKeys = options.skipKeys ?? [];
  const skipping = skipKeys.length > 0 ? ' AND o.key <> ALL($6::text[])' : '';
  const values: unknown[] = [options.slots.map((s) => s.slot), options.slots.map((s) => s.txid), options.slots.map((s) => s.seq), options.xmin, options.limit];
  if (skipping) values.push([...skipKeys]);
  return {
    name: `${t.statementPrefix}claim_outbox_rows${skipping ? '_skipping' : ''}`,
    text: `WITH open AS (
        SELECT * FROM unnest($1::smallint[], $2::xid8[], $3::bigint[]) AS s(slot, wtx, wseq)
      ), positions AS (
        SELECT s.slot, p.txid, p.seq FROM open s CROSS JOIN LATERAL (
          SELECT o.txid, o.seq FROM ${t.outbox} o
          WHERE o.slot = s.slot AND (o.txid, o.seq) > (s.wtx, s.wseq) AND o.txid < $4::xid8 AND o.published_at IS NULL${skipping}
          ORDER BY o.txid, o.seq LIMIT $5
        ) p
      ), oldest AS (
        SELECT slot, txid, seq FROM positions ORDER BY txid, seq LIMIT $5
      ), cuts AS (
        SELECT DISTINCT ON (slot) slot, txid, seq FROM oldest ORDER BY slot, txid DESC, seq DESC
      )
      SELECT c.slot, r.txid::text AS txid, r.seq, ${columns}
      FROM cuts c JOIN open s ON s.slot = c.slot
      CROSS JOIN LATERAL (
        SELECT o.* FROM ${t.outbox} o
        WHERE o.slot = c.slot AND (o.txid, o.seq) > (s.wtx, s.wseq) AND (o.txid, o.seq) <= (c.txid, c.seq) AND o.published_at IS NULL${skipping}
        ORDER BY o.txid, o.seq
      ) r`,
    values,
  };
}

/** Leases `taken` to the relay until now + leaseMs; ends its lease on `dropped`. */
export function leaseSlots(t: Tables, options: { relayId: string; leaseMs: number; taken: readonly number[]; dropped: readonly number[] }): Statement {
  return {
    name: `${t.statementPrefix}lease_outbox_slots`,
    text: `UPDATE ${t.outboxSlots} SET
        relay_id = CASE WHEN slot = ANY($3::smallint[]) THEN $1 ELSE NULL END,
        lease_expires_at = CASE WHEN slot = ANY($3::smallint[]) THEN ${NOW_MS} + $2::bigint ELSE NULL END
      WHERE slot = ANY($3::smallint[]) OR (slot = ANY($4::smallint[]) AND relay_id = $1)`,
    values: [options.relayId, Math.ceil(options.leaseMs), [...options.taken], [...options.dropped]],
  };
}
