import type { DeadLetter } from '@herald/core';
import { DEAD_LETTER_COLUMNS, type DeadLetterRow } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { LETTER_COLUMNS, letterRow, type ColumnBytes, type LetterWrite } from './letterColumns.js';
import { OPEN_STATUSES } from './statuses.js';

/** What an add writes: the letter's columns, when it was resolved, and the exact bytes of a key or value its text column cannot hold. */
const COLUMNS = [...DEAD_LETTER_COLUMNS.split(', '), 'resolved_at', 'key_bytes', 'envelope_bytes'] as readonly (keyof LetterWrite)[];

/** Each column's type, for the parameters an `INSERT ... SELECT` cannot type from its columns; text when not named. */
const TYPES: Partial<Record<keyof LetterWrite, string>> = {
  partition: 'integer',
  record_offset: 'bigint',
  attempts: 'integer',
  first_failure_at: 'bigint',
  last_failure_at: 'bigint',
  resolved_at: 'bigint',
  key_bytes: 'bytea',
  envelope_bytes: 'bytea',
};

/** The one row an add answers with: the letter kept instead (its columns null when there is none), and whether the letter was inserted. */
export type AddedRow = { [C in keyof (DeadLetterRow & ColumnBytes)]: (DeadLetterRow & ColumnBytes)[C] | null } & { readonly added: boolean };

/**
 * Inserts a letter, mapped by `@herald/sql` (its key and envelope as `letterRow` stores them),
 * unless the store keeps another (see `DeadLetterStore.add`): the letter stored with its id, or
 * else the oldest open letter of its record (its group, topic, partition, offset and event id, a
 * NULL one matching NULL). It answers with one row: the kept letter, or NULL columns and whether
 * it inserted. Neither (`added` false, no letter) means a concurrent add of the record committed
 * after this statement's snapshot and the unique index `dead_letters_open_record` kept the insert
 * out: running the statement again finds that letter. A letter added resolved counts as resolved
 * `now`. `headers` is NOT NULL here: no headers are stored as `'{}'` (the mapping writes NULL).
 */
export function addDeadLetter(t: Tables, options: { letter: DeadLetter; now: number }): Statement {
  const row = letterRow(options.letter, options.now);
  const param = (c: keyof LetterWrite, i: number) => `$${i + 1}::${TYPES[c] ?? 'text'}`;
  const values = COLUMNS.map((c, i) => (c === 'headers' ? `COALESCE(${param(c, i)}, '{}')` : param(c, i)));
  const at = (c: keyof LetterWrite) => param(c, COLUMNS.indexOf(c));
  const open = `group_name = ${at('group_name')} AND topic = ${at('topic')} AND partition = ${at('partition')} AND record_offset = ${at('record_offset')}
    AND COALESCE(event_id, '') = COALESCE(${at('event_id')}, '') AND status IN ${OPEN_STATUSES}`;
  return {
    name: `${t.statementPrefix}add_dead_letter_once`,
    text: `WITH kept AS (
        (SELECT ${LETTER_COLUMNS}, 0 AS rank FROM ${t.deadLetters} WHERE id = ${at('id')})
        UNION ALL
        (SELECT ${LETTER_COLUMNS}, 1 AS rank FROM ${t.deadLetters} WHERE ${open} ORDER BY seq LIMIT 1)
        ORDER BY rank LIMIT 1
      ), added AS (
        INSERT INTO ${t.deadLetters} (${COLUMNS.join(', ')}) SELECT ${values.join(', ')}
        WHERE NOT EXISTS (SELECT 1 FROM kept)
        ON CONFLICT DO NOTHING
        RETURNING seq
      )
      SELECT kept.*, EXISTS (SELECT 1 FROM added) AS added FROM (SELECT 1) AS one LEFT JOIN kept ON true`,
    values: COLUMNS.map((c) => row[c]),
  };
}
