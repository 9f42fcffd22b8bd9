import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * The statuses of an instance retention may delete, as an SQL list: finished (`completed`,
 * `failed`). The partial index `sagas_finished` (migration 12) has this condition word for word,
 * which is what lets the planner use it. `running` and `awaiting-start` (its instance holds events
 * already taken, waiting for their start event: deleting it would lose them), and any status not
 * named here, are never deleted.
 */
export const PURGEABLE_SAGA_STATUSES = `('completed', 'failed')`;

/**
 * Retention: deletes up to `limit` saga instances of a purgeable status last saved before `cutoff`,
 * oldest first through `sagas_finished`. An instance another transaction holds (a handler that
 * loaded it `FOR UPDATE`) is skipped, not waited for, so sweeps never delay a saga's events and
 * several processes split the work. The condition is checked again on the row as it is locked, so
 * one saved meanwhile (running again, or young) stays. The locked rows are deleted by their
 * address (a TID scan).
 */
export function purgeSagas(t: Tables, options: { cutoff: number; limit: number }): Statement {
  return {
    text: `DELETE FROM ${t.sagas} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${t.sagas}
        WHERE status IN ${PURGEABLE_SAGA_STATUSES} AND updated_at < $1::bigint
        ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    values: [options.cutoff, options.limit],
  };
}
