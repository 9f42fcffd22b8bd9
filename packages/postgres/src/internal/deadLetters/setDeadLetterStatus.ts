import type { DeadLetterStatus } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { storableIds } from './letterColumns.js';
import { RESOLVED_STATUSES } from './statuses.js';

/**
 * Sets the status of these letters (unknown ids are ignored). `resolved_at` becomes `now` when the
 * status turns resolved (or changes from one resolved status to another), stays when it is set
 * again, and is cleared when the letter turns `dead` or `parked` again.
 */
export function setDeadLetterStatus(t: Tables, options: { ids: readonly string[]; status: DeadLetterStatus; now: number }): Statement {
  return {
    text: `UPDATE ${t.deadLetters} SET status = $2::text,
        resolved_at = CASE WHEN $2::text NOT IN ${RESOLVED_STATUSES} THEN NULL WHEN status = $2::text THEN resolved_at ELSE $3::bigint END
      WHERE id = ANY($1::text[])`,
    values: [storableIds(options.ids), options.status, options.now],
  };
}
