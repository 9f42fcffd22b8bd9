import { CoreErrors, HeraldError, type SqlTx, type TimerStore } from '@herald/core';
import { toFiredTimer, toNumberOrNull, toPendingTimer, type TimerRow } from '@herald/sql';
import type { Db } from '../db.js';
import { runTransaction } from '../transaction.js';
import { executeInTx, noteAppended, queryInTx } from '../txStatements.js';
import { cancelTimer } from './cancelTimer.js';
import { findTimers } from './findTimers.js';
import { fireDueTimers, nextTimerDue } from './fireDueTimers.js';
import { scheduleTimer } from './scheduleTimer.js';

/**
 * Timers on PostgreSQL. `schedule` (insert, or replace by id) and `cancel` (delete) run in the
 * caller's transaction and lock their row until it ends. `fireDue` is its own transaction: one
 * statement deletes the due rows no other transaction holds (FOR UPDATE SKIP LOCKED) and appends
 * their records to the outbox, so schedulers in any number of processes fire each timer once and
 * never wait on each other or on a transaction cancelling a timer. A firing that appended records
 * wakes in-process relays (`onCommitted`).
 */
export function pgTimerStore(db: Db, onCommitted: (appended: boolean) => void): TimerStore<SqlTx> {
  const t = db.t;
  return {
    async schedule(tx, timers) {
      for (const timer of timers) await executeInTx(tx, 'schedule timer', scheduleTimer(t, timer));
    },
    async cancel(tx, timerId) {
      return (await executeInTx(tx, 'cancel timer', cancelTimer(t, timerId))) === 1;
    },
    fireDue({ now, limit }) {
      if (!Number.isInteger(limit) || limit < 1) throw new HeraldError(CoreErrors.invalidOptions, `pgStores: timers limit must be a positive integer, got ${limit}`);
      return runTransaction(db, onCommitted, async (tx) => {
        const { rows } = await queryInTx(tx, 'fire due timers', fireDueTimers(t, { now, limit }));
        if (rows.length > 0) noteAppended(tx);
        const next = await queryInTx(tx, 'next timer due', nextTimerDue(t));
        return { fired: (rows as TimerRow[]).map(toFiredTimer), nextDueAt: toNumberOrNull((next.rows[0] as { next: number | string | null }).next) };
      });
    },
    async find(timerIds) {
      if (timerIds.length === 0) return [];
      const { rows } = await db.run<TimerRow>('find timers', findTimers(t, timerIds));
      return rows.map(toPendingTimer);
    },
  };
}
