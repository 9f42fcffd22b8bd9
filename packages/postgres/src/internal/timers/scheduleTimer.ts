import type { ScheduledRecord } from '@herald/core';
import { TIMER_COLUMNS, timerValues } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Inserts a timer, or replaces the pending one with its id (a new `seq`: it now counts as
 * scheduled last). The row lock the write takes keeps schedulers (SKIP LOCKED) off it until the
 * transaction ends.
 */
export function scheduleTimer(t: Tables, timer: ScheduledRecord): Statement {
  return {
    name: `${t.statementPrefix}schedule_timer`,
    text: `INSERT INTO ${t.timers} (${TIMER_COLUMNS})
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, '{}'), $10)
      ON CONFLICT (timer_id) DO UPDATE SET seq = DEFAULT, due_at = EXCLUDED.due_at, id = EXCLUDED.id, topic = EXCLUDED.topic,
        key = EXCLUDED.key, type = EXCLUDED.type, correlation_id = EXCLUDED.correlation_id, value = EXCLUDED.value,
        headers = EXCLUDED.headers, created_at = EXCLUDED.created_at`,
    values: timerValues(timer),
  };
}
