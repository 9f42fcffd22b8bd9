import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { storableIds } from './letterColumns.js';
import { OPEN_STATUSES } from './statuses.js';

/**
 * Marks the `dead` and `parked` letters among `ids` `discarded`, resolved at `now` (retention counts
 * from it); letters already resolved and unknown ids are left alone, so the changed-row count is how
 * many were discarded. A discarded letter no longer parks its key.
 */
export function discardDeadLetters(t: Tables, options: { ids: readonly string[]; now: number }): Statement {
  return {
    name: `${t.statementPrefix}discard_dead_letters`,
    text: `UPDATE ${t.deadLetters} SET status = 'discarded', resolved_at = $2::bigint
      WHERE id = ANY($1::text[]) AND status IN ${OPEN_STATUSES}`,
    values: [storableIds(options.ids), options.now],
  };
}
