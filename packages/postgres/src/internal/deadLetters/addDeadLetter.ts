import type { DeadLetter } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { DEAD_LETTER_COLUMNS, RESOLVED_STATUSES, toValues } from './rows.js';

/**
 * Inserts a letter. Adding an id again (a retried add) updates it in place and keeps its position
 * in the list, so a retry never makes a second letter. A letter added resolved counts as resolved
 * `now`; one added again with the status it had keeps its `resolved_at`.
 */
export function addDeadLetter(t: Tables, options: { letter: DeadLetter; now: number }): Statement {
  const columns = DEAD_LETTER_COLUMNS.split(', ');
  const updates = columns.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`);
  const status = `$${columns.indexOf('status') + 1}::text`;
  const now = `$${columns.length + 1}::bigint`;
  return {
    name: `${t.statementPrefix}add_dead_letter`,
    text: `INSERT INTO ${t.deadLetters} AS d (${DEAD_LETTER_COLUMNS}, resolved_at)
      VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}, CASE WHEN ${status} IN ${RESOLVED_STATUSES} THEN ${now} END)
      ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')},
        resolved_at = CASE WHEN d.status = EXCLUDED.status THEN d.resolved_at ELSE EXCLUDED.resolved_at END`,
    values: [...toValues(options.letter), options.now],
  };
}
