import type { ClaimOptions } from '@herald/core';
import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';
import { OUTBOX_COLUMNS } from './rows.js';

/**
 * Claims a batch for one relay, per key, in one statement (one snapshot, one transaction).
 *
 * A relay claims *keys* (`(topic, key)` pairs), never loose rows: a row claim would let two relays
 * take two records of one key and publish them in either order. The statement has four steps:
 *
 * 1. `heads`: walk pending rows in append order (`seq`, partial index `outbox_pending_seq`) and keep
 *    each key's *head*, its earliest pending row (`outbox_pending_key` probe), when no other relay
 *    holds an unexpired claim on the key (`outbox_claims` probe). Each head is locked
 *    `FOR UPDATE SKIP LOCKED`: the head row is the per-key lock point, so relays claiming at the
 *    same moment split the keys between them instead of waiting on each other. The oldest keys come
 *    first, so no key starves.
 * 2. `picked`: every pending row of those keys, in append order, at most `limit` rows. A key that
 *    has rows in the batch always has its head there (the head is its smallest `seq`).
 * 3. `claimed`: upsert one claim row per picked key with this relay and `now + leaseMs` (database
 *    clock). The upsert only takes a key whose claim is ours or has lapsed; this is the guard that
 *    makes the claim exclusive even when a relay's snapshot predates a rival's claim (SKIP LOCKED
 *    only avoids waiting; the primary key of `outbox_claims` decides).
 * 4. Return the picked rows of the keys actually claimed, in append order.
 *
 * A claim covers the whole key: rows appended later are not handed to any other relay until the
 * holder marks or releases (which deletes the claim) or the lease lapses. Hence the store's contract:
 * no record of a key is returned while another relay holds an unexpired claim on that key.
 */
export function claimOutboxBatch(t: Tables, options: ClaimOptions): Statement {
  return {
    name: `${t.statementPrefix}claim_outbox`,
    text: `
      WITH heads AS (
        SELECT o.topic, o.key
        FROM ${t.outbox} o
        WHERE o.published_at IS NULL
          AND NOT EXISTS (
            SELECT 1 FROM ${t.outboxClaims} c
            WHERE c.topic = o.topic AND c.key = o.key AND c.relay_id <> $1 AND c.expires_at > ${NOW_MS})
          AND NOT EXISTS (
            SELECT 1 FROM ${t.outbox} e
            WHERE e.published_at IS NULL AND e.topic = o.topic AND e.key = o.key AND e.seq < o.seq)
        ORDER BY o.seq
        LIMIT $2
        FOR UPDATE OF o SKIP LOCKED
      ),
      picked AS (
        SELECT ${OUTBOX_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}
        FROM heads h JOIN ${t.outbox} r ON r.topic = h.topic AND r.key = h.key
        WHERE r.published_at IS NULL
        ORDER BY r.seq
        LIMIT $2
      ),
      claimed AS (
        INSERT INTO ${t.outboxClaims} AS c (topic, key, relay_id, expires_at)
        SELECT DISTINCT topic, key, $1, ${NOW_MS} + $3::bigint FROM picked
        ON CONFLICT (topic, key) DO UPDATE SET relay_id = EXCLUDED.relay_id, expires_at = EXCLUDED.expires_at
          WHERE c.relay_id = EXCLUDED.relay_id OR c.expires_at <= ${NOW_MS}
        RETURNING c.topic, c.key
      )
      SELECT p.* FROM picked p JOIN claimed k ON k.topic = p.topic AND k.key = p.key
      ORDER BY p.seq`,
    values: [options.relayId, options.limit, Math.ceil(options.leaseMs)],
  };
}
