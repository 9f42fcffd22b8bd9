import type { DeadLetter } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { DEAD_LETTER_COLUMNS, toValues } from './rows.js';

/**
 * Inserts a letter. Adding an id again (a retried add) updates it in place and keeps its position
 * in the list, so a retry never makes a second letter.
 */
export function addDeadLetter(t: Tables, letter: DeadLetter): Statement {
  const columns = DEAD_LETTER_COLUMNS.split(', ');
  const updates = columns.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`).join(', ');
  return {
    name: `${t.statementPrefix}add_dead_letter`,
    text: `INSERT INTO ${t.deadLetters} (${DEAD_LETTER_COLUMNS})
      VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${updates}`,
    values: toValues(letter),
  };
}
