import type { ClaimOptions, OutboxRecord } from '@herald/core';
import { OUTBOX_RECORD_COLUMNS, toOutboxRecord, type OutboxRow } from '@herald/sql';
import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/*
 * A relay claims *keys* (`(topic, key)` pairs), never loose rows: a row claim would let two relays
 * take two records of one key and publish them in either order. A claim takes two statements, with
 * the choice of keys made here in between, so that neither statement joins two sets the planner
 * cannot estimate (a single-statement version did, and its nested loops made a claim of 1 000 rows
 * cost up to a million key comparisons, half a second of database CPU):
 *
 * 1. {@link scanOutboxWindow}: the oldest pending rows in append order (`seq`, partial index
 *    `outbox_pending_seq`), at most `window` of them (see {@link claimWindows}), and the keys other
 *    relays hold unexpired claims on. Being a prefix of the pending rows, the window holds a prefix
 *    of each key's pending rows, so a key's first row in it is its *head* (earliest pending row).
 * 2. {@link pickFromWindow}: the keys of unheld heads, oldest head first, and their rows in append
 *    order up to `limit` (a prefix of each picked key's rows, always starting at its head).
 * 3. {@link takeClaims}: locks the picked heads `FOR UPDATE SKIP LOCKED` (relays claiming at the
 *    same moment split the keys instead of waiting), upserts one claim row per locked head with
 *    this relay and `now + leaseMs` (database clock) — only where the claim is ours or has lapsed:
 *    the primary key of `outbox_claims` is what makes a claim exclusive, even against a rival that
 *    claimed after step 1 — and reads the picked rows still pending.
 * 4. {@link claimedRecords}: keeps the rows of the keys the upsert took.
 *
 * A claim covers the whole key: rows appended later are not handed to any other relay until the
 * holder marks or releases (which deletes the claim) or the lease lapses. Hence the store's contract:
 * no record of a key is returned while another relay holds an unexpired claim on that key, and each
 * key's records leave in append order. Keys are served oldest head first, so none starves.
 */

/** Smallest window, so tiny batches still see a useful stretch of the backlog. */
const MIN_WINDOW = 100;

/**
 * Windows a claim tries, smallest first: twice the batch, then 8x and 64x that. The store moves to
 * the next only when a full window held nothing claimable (other relays hold all its keys), so a
 * claim's cost is bounded by the backlog it actually has to look through, not the whole outbox.
 */
export function claimWindows(limit: number): readonly number[] {
  const base = Math.max(limit * 2, MIN_WINDOW);
  return [base, base * 8, base * 64];
}

/** A row of {@link scanOutboxWindow}: a window row (`part` 0) or a key another relay holds (`part` 1). */
export interface WindowRow {
  readonly part: 0 | 1;
  readonly seq: string | number | null;
  readonly topic: string;
  readonly key: string;
}

/** Step 1: the window's rows (`seq`, `topic`, `key`) in append order, then the keys held by other relays. */
export function scanOutboxWindow(t: Tables, options: { relayId: string; window: number }): Statement {
  return {
    // unnamed: planned for the actual window each time (a claim runs once per relay round)
    text: `
      (SELECT 0 AS part, seq, topic, key FROM ${t.outbox} WHERE published_at IS NULL ORDER BY seq LIMIT $2)
      UNION ALL
      SELECT 1, NULL, topic, key FROM ${t.outboxClaims} WHERE relay_id <> $1 AND expires_at > ${NOW_MS}`,
    values: [options.relayId, options.window],
  };
}

/** What {@link pickFromWindow} chose: heads to lock and claim, and the rows to read. */
export interface Picked {
  /** How many rows the window held (fewer than asked: the whole backlog was seen). */
  readonly windowRows: number;
  /** `seq` of each picked key's head, oldest first. */
  readonly heads: string[];
  /** `seq` of the picked rows, in append order, at most `limit`. */
  readonly rows: string[];
}

/** Step 2: heads of keys nobody else holds, oldest first, and their rows in append order, at most `limit` rows. */
export function pickFromWindow(rows: readonly WindowRow[], limit: number): Picked {
  const held = new Set<string>();
  for (const row of rows) if (row.part === 1) held.add(keyOf(row.topic, row.key));
  const decided = new Map<string, boolean>();
  const heads: string[] = [];
  const picked: string[] = [];
  let windowRows = 0;
  for (const row of rows) {
    if (row.part !== 0) continue;
    windowRows++;
    if (picked.length >= limit) continue;
    const key = keyOf(row.topic, row.key);
    let take = decided.get(key);
    if (take === undefined) {
      // first row of the key in the window: its head
      take = !held.has(key);
      decided.set(key, take);
      if (take) heads.push(String(row.seq));
    }
    if (take) picked.push(String(row.seq));
  }
  return { windowRows, heads, rows: picked };
}

/** What a claim reads of a record: its position, then the columns `@herald/sql` maps. */
const CLAIM_COLUMNS = `seq, ${OUTBOX_RECORD_COLUMNS}`;

/** The same columns for a claimed key's row: its `topic` and `key`, NULL for the rest. */
const CLAIMED_KEY_COLUMNS = CLAIM_COLUMNS.split(', ')
  .map((c) => (c === 'topic' || c === 'key' ? c : `NULL::${c === 'seq' || c === 'created_at' ? 'bigint' : 'text'} AS ${c}`))
  .join(', ');

/** A row of {@link takeClaims}: a key the upsert took (`part` 1) or a picked record (`part` 2). */
export type ClaimRow = OutboxRow & { readonly part: 1 | 2; readonly seq: string | number | null };

/** Step 3: lock the heads, claim their keys, read the picked rows still pending. */
export function takeClaims(t: Tables, options: ClaimOptions & { picked: Picked }): Statement {
  return {
    text: `
      WITH heads AS (
        SELECT topic, key FROM ${t.outbox}
        WHERE seq = ANY($2::bigint[]) AND published_at IS NULL
        FOR UPDATE SKIP LOCKED
      ),
      claimed AS (
        INSERT INTO ${t.outboxClaims} AS c (topic, key, relay_id, expires_at)
        SELECT topic, key, $1, ${NOW_MS} + $3::bigint FROM heads
        ON CONFLICT (topic, key) DO UPDATE SET relay_id = EXCLUDED.relay_id, expires_at = EXCLUDED.expires_at
          WHERE c.relay_id = EXCLUDED.relay_id OR c.expires_at <= ${NOW_MS}
        RETURNING c.topic, c.key
      )
      SELECT 1 AS part, ${CLAIMED_KEY_COLUMNS} FROM claimed
      UNION ALL
      SELECT 2, ${CLAIM_COLUMNS} FROM ${t.outbox} WHERE seq = ANY($4::bigint[]) AND published_at IS NULL
      ORDER BY part, seq`,
    values: [options.relayId, options.picked.heads, Math.ceil(options.leaseMs), options.picked.rows],
  };
}

/** Step 4: the picked records whose key this relay claimed, in append order. */
export function claimedRecords(rows: readonly ClaimRow[]): OutboxRecord[] {
  const claimed = new Set<string>();
  const records: OutboxRecord[] = [];
  for (const row of rows) {
    if (row.part === 1) claimed.add(keyOf(row.topic, row.key));
    else if (claimed.has(keyOf(row.topic, row.key))) records.push(toOutboxRecord(row));
  }
  return records;
}

const keyOf = (topic: string, key: string) => `${topic}\u0000${key}`;
