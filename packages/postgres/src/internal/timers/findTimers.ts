import { PENDING_TIMER_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** The committed pending timers among these ids. */
export function findTimers(t: Tables, timerIds: readonly string[]): Statement {
  return {
    text: `SELECT ${PENDING_TIMER_COLUMNS} FROM ${t.timers} WHERE timer_id = ANY($1::text[])`,
    values: [[...new Set(timerIds)]],
  };
}
