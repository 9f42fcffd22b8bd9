import type { ClaimOptions } from '@herald/core';
import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';
import { OUTBOX_COLUMNS } from './rows.js';

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

/**
 * Claims a batch for one relay, per key, in one statement (one snapshot, one transaction).
 *
 * A relay claims *keys* (`(topic, key)` pairs), never loose rows: a row claim would let two relays
 * take two records of one key and publish them in either order. The statement's steps:
 *
 * 1. `win`: the oldest pending rows in append order (`seq`, partial index `outbox_pending_seq`),
 *    at most `window` of them (see {@link claimWindows}). Being a prefix of the pending rows, it holds a prefix of
 *    each key's pending rows, so a key's first row in the window is its *head* (earliest pending row).
 * 2. `heads`: the heads of keys no other relay holds an unexpired claim on (`outbox_claims` probe),
 *    oldest first, at most `limit`, each locked `FOR UPDATE SKIP LOCKED`. The head row is the per-key
 *    lock point: relays claiming at the same moment split the keys between them instead of waiting.
 * 3. `picked`: the window's rows of those keys, in append order, at most `limit`: a prefix of each
 *    key's pending rows, always starting at its head.
 * 4. `claimed`: upsert one claim row per picked key with this relay and `now + leaseMs` (database
 *    clock). The upsert only takes a key whose claim is ours or has lapsed; this is the guard that
 *    makes the claim exclusive even when a relay's snapshot predates a rival's claim (SKIP LOCKED
 *    only avoids waiting; the primary key of `outbox_claims` decides).
 * 5. Return the picked rows of the keys actually claimed, in append order, each with
 *    `window_rows` (how many rows the window held); with nothing claimed, one row of NULLs carrying
 *    `window_rows`, so the caller knows whether a larger window could find more.
 *
 * A claim covers the whole key: rows appended later are not handed to any other relay until the
 * holder marks or releases (which deletes the claim) or the lease lapses. Hence the store's contract:
 * no record of a key is returned while another relay holds an unexpired claim on that key, and each
 * key's records leave in append order. Keys are served oldest head first, so none starves.
 */
export function claimOutboxBatch(t: Tables, options: ClaimOptions & { window: number }): Statement {
  return {
    name: `${t.statementPrefix}claim_outbox`,
    text: `
      WITH win AS MATERIALIZED (
        SELECT seq, topic, key FROM ${t.outbox} WHERE published_at IS NULL ORDER BY seq LIMIT $4
      ),
      heads AS (
        SELECT o.topic, o.key
        FROM ${t.outbox} o
        WHERE o.seq IN (SELECT min(w.seq) FROM win w GROUP BY w.topic, w.key)
          AND o.published_at IS NULL
          AND NOT EXISTS (
            SELECT 1 FROM ${t.outboxClaims} c
            WHERE c.topic = o.topic AND c.key = o.key AND c.relay_id <> $1 AND c.expires_at > ${NOW_MS})
        ORDER BY o.seq
        LIMIT $2
        FOR UPDATE OF o SKIP LOCKED
      ),
      picked AS MATERIALIZED (
        SELECT w.seq, w.topic, w.key FROM win w WHERE (w.topic, w.key) IN (SELECT topic, key FROM heads)
        ORDER BY w.seq
        LIMIT $2
      ),
      claimed AS (
        INSERT INTO ${t.outboxClaims} AS c (topic, key, relay_id, expires_at)
        SELECT DISTINCT topic, key, $1, ${NOW_MS} + $3::bigint FROM picked
        ON CONFLICT (topic, key) DO UPDATE SET relay_id = EXCLUDED.relay_id, expires_at = EXCLUDED.expires_at
          WHERE c.relay_id = EXCLUDED.relay_id OR c.expires_at <= ${NOW_MS}
        RETURNING c.topic, c.key
      )
      SELECT s.window_rows, x.*
      FROM (SELECT count(*)::int AS window_rows FROM win) s
      LEFT JOIN (
        SELECT ${OUTBOX_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}
        FROM picked p
        JOIN claimed k ON k.topic = p.topic AND k.key = p.key
        JOIN ${t.outbox} r ON r.seq = p.seq
      ) x ON true
      ORDER BY x.seq`,
    values: [options.relayId, options.limit, Math.ceil(options.leaseMs), options.window],
  };
}
