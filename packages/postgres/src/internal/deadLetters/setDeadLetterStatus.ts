import type { DeadLetterStatus } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { storableIds } from './letterColumns.js';
import { OPEN_STATUSES, RESOLVED_STATUSES } from './statuses.js';

/** The index that keeps a second open letter of a record out (migration 16): a statement that lost a race to it runs again. */
export const OPEN_RECORD_INDEX = 'dead_letters_open_record';

/**
 * Sets the status of these letters (unknown ids are ignored) and answers with the ids it left as
 * they were (see `DeadLetterStore.setStatus`): a resolved letter set `dead` or `parked` whose
 * record (group, topic, partition, offset and event id, a NULL one matching NULL) has an open
 * letter, or an older resolved letter among `ids` that is reopened in its place. `resolved_at`
 * becomes `now` when the status turns resolved (or changes from one resolved status to another),
 * stays when it is set again, and is cleared when the letter turns `dead` or `parked` again. The
 * look for an open letter sees what was committed when the statement began: a letter a concurrent
 * add or reopen commits after that makes `OPEN_RECORD_INDEX` refuse the update, and the statement
 * is run again.
 */
export function setDeadLetterStatus(t: Tables, options: { ids: readonly string[]; status: DeadLetterStatus; now: number }): Statement {
  const sameRecord = (o: string) =>
    `${o}.group_name = t.group_name AND ${o}.topic = t.topic AND ${o}.partition = t.partition AND ${o}.record_offset = t.record_offset`;
  return {
    text: `WITH target AS (
        SELECT id, seq, status, group_name, topic, partition, record_offset, COALESCE(event_id, '') AS event
        FROM ${t.deadLetters} WHERE id = ANY($1::text[])
      ), left_out AS (
        SELECT t.id FROM target AS t
        WHERE $2::text IN ${OPEN_STATUSES} AND t.status NOT IN ${OPEN_STATUSES} AND (
          EXISTS (SELECT 1 FROM ${t.deadLetters} AS o WHERE ${sameRecord('o')} AND COALESCE(o.event_id, '') = t.event AND o.status IN ${OPEN_STATUSES})
          OR EXISTS (SELECT 1 FROM target AS o WHERE ${sameRecord('o')} AND o.event = t.event AND o.status NOT IN ${OPEN_STATUSES} AND o.seq < t.seq))
      ), changed AS (
        UPDATE ${t.deadLetters} SET status = $2::text,
          resolved_at = CASE WHEN $2::text NOT IN ${RESOLVED_STATUSES} THEN NULL WHEN status = $2::text THEN resolved_at ELSE $3::bigint END
        WHERE id IN (SELECT id FROM target) AND id NOT IN (SELECT id FROM left_out)
      )
      SELECT id FROM left_out`,
    values: [storableIds(options.ids), options.status, options.now],
  };
}
