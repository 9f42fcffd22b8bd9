import type { DeadLetter } from '@herald/core';
import { DEAD_LETTER_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { letterRow, type LetterWrite } from './letterColumns.js';

/** What an add writes: the letter's columns, when it was resolved, and the exact bytes of a key or value its text column cannot hold. */
const COLUMNS = [...DEAD_LETTER_COLUMNS.split(', '), 'resolved_at', 'key_bytes', 'envelope_bytes'] as readonly (keyof LetterWrite)[];

/**
 * Inserts a letter, mapped by `@herald/sql` (its key and envelope as `letterRow` stores them).
 * Adding an id again (a retried add) updates it in place and keeps its position in the list, so a
 * retry never makes a second letter. A letter added resolved counts as resolved `now`; one added
 * again with the status it had keeps its `resolved_at`. `headers` is NOT NULL here: no headers are
 * stored as `'{}'` (the mapping writes NULL).
 */
export function addDeadLetter(t: Tables, options: { letter: DeadLetter; now: number }): Statement {
  const row = letterRow(options.letter, options.now);
  const params = COLUMNS.map((c, i) => (c === 'headers' ? `COALESCE($${i + 1}, '{}')` : `$${i + 1}`));
  const updates = COLUMNS.filter((c) => c !== 'id' && c !== 'resolved_at').map((c) => `${c} = EXCLUDED.${c}`);
  return {
    name: `${t.statementPrefix}add_dead_letter`,
    text: `INSERT INTO ${t.deadLetters} AS d (${COLUMNS.join(', ')}) VALUES (${params.join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')},
        resolved_at = CASE WHEN d.status = EXCLUDED.status THEN d.resolved_at ELSE EXCLUDED.resolved_at END`,
    values: COLUMNS.map((c) => row[c]),
  };
}
