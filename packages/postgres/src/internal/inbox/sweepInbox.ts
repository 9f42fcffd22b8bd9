import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Retention: deletes up to `limit` inbox marks handled before `cutoff`, oldest first through the
 * index `inbox_handled_at`. A mark another transaction holds is skipped, not waited for, so sweeps
 * in several processes split the work and never wait on a consumer. The rows locked by the
 * sub-select are deleted by their address (a TID scan; the table has no single-column key).
 */
export function sweepInbox(t: Tables, options: { cutoff: number; limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.inbox} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${t.inbox} WHERE handled_at < $1::bigint
        ORDER BY handled_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    values: [options.cutoff, options.limit],
  };
}
