import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { RESOLVED_STATUSES } from './statuses.js';

/**
 * Retention: deletes up to `limit` resolved letters (`redriven`, `discarded`) resolved before
 * `cutoff`, oldest first through the partial index `dead_letters_resolved`. A `dead` or `parked`
 * letter is never touched, whatever its age. Letters another transaction holds (a status being set)
 * are skipped, not waited for: sweeps in several processes split the work and never block a
 * redrive. The rows locked by the sub-select are deleted by their address (a TID scan).
 */
export function purgeResolvedDeadLetters(t: Tables, options: { cutoff: number; limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.deadLetters} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${t.deadLetters}
        WHERE status IN ${RESOLVED_STATUSES} AND resolved_at < $1::bigint
        ORDER BY resolved_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    values: [options.cutoff, options.limit],
  };
}
