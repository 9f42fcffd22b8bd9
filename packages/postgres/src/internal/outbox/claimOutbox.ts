import { OUTBOX_RECORD_COLUMNS, type OutboxRow } from '@herald/sql';
import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/*
 * A claim, in one transaction:
 * 1. {@link lockSlots}: every slot row FOR UPDATE (claims queue here, briefly), the database clock,
 *    and the oldest running transaction (`pg_snapshot_xmin`): only rows of older transactions are
 *    taken, so none can commit below a watermark later.
 * 2. {@link pendingPositions}: per slot not leased by another relay, the first `limit` positions
 *    above its watermark (index only: `outbox_slot`).
 * 3. the claim keeps the oldest `limit` positions across slots (see outboxStore.ts), and
 *    {@link readPending} reads those rows: each slot's share is the prefix of its pending rows up
 *    to a cut.
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

/** A position of {@link pendingPositions}. */
export interface PositionRow {
  readonly slot: number;
  readonly txid: string;
  readonly seq: string | number;
}

/** Up to `limit` positions above each slot's watermark, of transactions older than `xmin`. */
export function pendingPositions(t: Tables, options: { slots: readonly { slot: number; txid: string; seq: string }[]; xmin: string; limit: number }): Statement {
  return {
    name: `${t.statementPrefix}outbox_pending_positions`,
    text: `SELECT s.slot, p.txid::text AS txid, p.seq
      FROM unnest($1::smallint[], $2::xid8[], $3::bigint[]) AS s(slot, wtx, wseq)
      CROSS JOIN LATERAL (
        SELECT o.txid, o.seq FROM ${t.outbox} o
        WHERE o.slot = s.slot AND (o.txid, o.seq) > (s.wtx, s.wseq) AND o.txid < $4::xid8 AND o.published_at IS NULL
        ORDER BY o.txid, o.seq LIMIT $5
      ) p`,
    values: [options.slots.map((s) => s.slot), options.slots.map((s) => s.txid), options.slots.map((s) => s.seq), options.xmin, options.limit],
  };
}

/** A record row of {@link readPending}: its position, then the columns `@herald/sql` maps. */
export type PendingRow = OutboxRow & { readonly slot: number; readonly txid: string; readonly seq: string | number };

/** The rows of each slot from just above its watermark up to its cut, in order. */
export function readPending(t: Tables, ranges: readonly { slot: number; fromTxid: string; fromSeq: string; toTxid: string; toSeq: string }[]): Statement {
  return {
    name: `${t.statementPrefix}outbox_read_pending`,
    text: `SELECT s.slot, r.txid::text AS txid, r.seq, ${OUTBOX_RECORD_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}
      FROM unnest($1::smallint[], $2::xid8[], $3::bigint[], $4::xid8[], $5::bigint[]) AS s(slot, ftx, fseq, ttx, tseq)
      CROSS JOIN LATERAL (
        SELECT o.* FROM ${t.outbox} o
        WHERE o.slot = s.slot AND (o.txid, o.seq) > (s.ftx, s.fseq) AND (o.txid, o.seq) <= (s.ttx, s.tseq) AND o.published_at IS NULL
        ORDER BY o.txid, o.seq
      ) r`,
    values: [ranges.map((r) => r.slot), ranges.map((r) => r.fromTxid), ranges.map((r) => r.fromSeq), ranges.map((r) => r.toTxid), ranges.map((r) => r.toSeq)],
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
