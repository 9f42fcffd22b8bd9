import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/**
 * Retention: deletes up to `limit` records published more than `retentionMs` ago (oldest first, via
 * the partial index `outbox_published`), and every lapsed claim (a lapsed claim holds nothing).
 * Returns the number of records deleted as `deleted`.
 */
export function sweepOutbox(t: Tables, options: { retentionMs: number; limit: number }): Statement {
  return {
    text: `
      WITH gone AS (
        DELETE FROM ${t.outbox} WHERE seq IN (
          SELECT seq FROM ${t.outbox}
          WHERE published_at IS NOT NULL AND published_at < ${NOW_MS} - $1::bigint
          ORDER BY published_at LIMIT $2)
        RETURNING 1
      ),
      lapsed AS (DELETE FROM ${t.outboxClaims} WHERE expires_at < ${NOW_MS} RETURNING 1)
      SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM lapsed)::int AS lapsed`,
    values: [Math.floor(options.retentionMs), options.limit],
  };
}
