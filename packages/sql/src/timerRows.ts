import { CoreErrors, HeraldError, type FiredTimers, type PendingTimer, type ScheduledRecord } from '@herald/core';
import { toNumber } from './integers.js';
import { OUTBOX_RECORD_COLUMNS, outboxValues } from './outboxRows.js';

/**
 * A timer row, with the column names both engines use: the timer's id and due time, then the
 * outbox record it appends when due, in the outbox's own columns (so firing is an
 * `INSERT INTO outbox (...) SELECT ...` of the same names). `created_at` is when it was scheduled.
 */
export interface TimerRow {
  readonly timer_id: string;
  readonly due_at: number | string;
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly type: string;
  readonly correlation_id: string;
}

/** The columns {@link timerValues} writes, in order. */
export const TIMER_COLUMNS = `timer_id, due_at, ${OUTBOX_RECORD_COLUMNS}`;

/** The columns {@link toPendingTimer} reads. */
export const PENDING_TIMER_COLUMNS = 'timer_id, due_at, id, topic, key, type, correlation_id';

/** Longest timer id the stores accept. */
export const MAX_TIMER_ID = 500;

/** Column values to insert a timer, in {@link TIMER_COLUMNS} order; refuses an id or time the stores cannot keep. */
export function timerValues(timer: ScheduledRecord): [string, number, ...ReturnType<typeof outboxValues>] {
  if (typeof timer.timerId !== 'string' || timer.timerId.length === 0 || timer.timerId.length > MAX_TIMER_ID) {
    throw new HeraldError(CoreErrors.invalidOptions, `timers: timerId must be a string of 1 to ${MAX_TIMER_ID} characters`);
  }
  if (!Number.isSafeInteger(timer.dueAt)) throw new HeraldError(CoreErrors.invalidOptions, `timers: dueAt of ${timer.timerId} must be a whole number of ms, got ${timer.dueAt}`);
  return [timer.timerId, timer.dueAt, ...outboxValues(timer.record)];
}

export function toPendingTimer(row: TimerRow): PendingTimer {
  return { timerId: row.timer_id, dueAt: toNumber(row.due_at), eventId: row.id, topic: row.topic, key: row.key, type: row.type, correlationId: row.correlation_id };
}

/** One entry of {@link FiredTimers.fired}. */
export function toFiredTimer(row: Pick<TimerRow, 'timer_id' | 'due_at' | 'topic' | 'type'>): FiredTimers['fired'][number] {
  return { timerId: row.timer_id, dueAt: toNumber(row.due_at), topic: row.topic, type: row.type };
}
