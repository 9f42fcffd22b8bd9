import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Deletes a pending timer; one row changed means it was pending. */
export function cancelTimer(t: Tables, timerId: string): Statement {
  return {
    name: `${t.statementPrefix}cancel_timer`,
    text: `DELETE FROM ${t.timers} WHERE timer_id = $1`,
    values: [timerId],
  };
}
