import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Deletes up to `limit` records whose expiry is at or before `now`, soonest expired first (index
 * `idempotency_keys_expiry`). A record another transaction holds (a `begin` taking the expired key
 * again) is skipped, not waited for; the locked rows are deleted by their address (a TID scan).
 */
export function purgeExpiredIdempotency(t: Tables, options: { now: number; limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.idempotency} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${t.idempotency} WHERE expires_at <= $1::bigint
        ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    values: [options.now, options.limit],
  };
}
