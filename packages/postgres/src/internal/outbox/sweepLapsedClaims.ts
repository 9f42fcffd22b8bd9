import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/**
 * Deletes up to `limit` claims whose lease lapsed (database clock): a lapsed claim holds nothing,
 * any relay may take the key over. A claim a relay is renewing or taking over at this moment is
 * locked, and skipped rather than waited for.
 */
export function sweepLapsedClaims(t: Tables, options: { limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.outboxClaims} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${t.outboxClaims} WHERE expires_at < ${NOW_MS}
        LIMIT $1 FOR UPDATE SKIP LOCKED))`,
    values: [options.limit],
  };
}
