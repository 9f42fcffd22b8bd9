import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/**
 * Retention: deletes up to `limit` records published more than `retentionMs` ago by the database
 * clock (which stamped `published_at`), oldest first via the partial index `outbox_published`. A
 * record another transaction holds is skipped, not waited for, so sweeps in several processes split
 * the work and never wait on a relay. The locked rows are deleted by their address (a TID scan).
 */
export function sweepOutbox(t: Tables, options: { retentionMs: number; limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.outbox} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${t.outbox}
        WHERE published_at IS NOT NULL AND published_at < ${NOW_MS} - $1::bigint
        ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    values: [Math.floor(options.retentionMs), options.limit],
  };
}
