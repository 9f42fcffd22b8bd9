import { OUTBOX_RECORD_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Fires up to `limit` timers due at `now` in one statement: takes them oldest due first, skipping
 * rows other transactions hold (a scheduler firing them, a transaction cancelling or replacing
 * them), deletes them, and appends their records to the outbox in the same order, stamped `now`
 * (an event id already in the outbox is skipped, as on append). Returns the fired timers in order.
 * The locked rows are picked once, by address (a TID array), before the delete.
 */
export function fireDueTimers(t: Tables, options: { now: number; limit: number }): Statement {
  return {
    name: `${t.statementPrefix}fire_due_timers`,
    text: `WITH due AS (
        DELETE FROM ${t.timers} WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM ${t.timers} WHERE due_at <= $1::bigint ORDER BY due_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING *
      ), appended AS (
        INSERT INTO ${t.outbox} (${OUTBOX_RECORD_COLUMNS})
        SELECT id, topic, key, type, correlation_id, value, headers, $1::bigint FROM due ORDER BY due_at, seq
        ON CONFLICT (id) DO NOTHING
      )
      SELECT timer_id, due_at, topic, type FROM due ORDER BY due_at, seq`,
    values: [options.now, options.limit],
  };
}

/** The earliest due time of the pending timers (in the firing transaction: after its deletes). */
export function nextTimerDue(t: Tables): Statement {
  return {
    name: `${t.statementPrefix}next_timer_due`,
    text: `SELECT min(due_at) AS next FROM ${t.timers}`,
  };
}
