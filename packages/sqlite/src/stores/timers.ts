import type { FiredTimers, PendingTimer, SqlTx, TimerStore } from '@herald/core';
import { CoreErrors, HeraldError } from '@herald/core';
import { OUTBOX_RECORD_COLUMNS, PENDING_TIMER_COLUMNS, TIMER_COLUMNS, timerValues, toFiredTimer, toPendingTimer, type TimerRow } from '@herald/sql';
import { storeReads } from '../internal/storeErrors.js';
import type { StoreDeps } from './outbox.js';
import { outboxSlot } from './slots.js';

/** A due timer as the firing reads it: its place, then every column of TIMER_COLUMNS. */
interface DueRow extends TimerRow {
  readonly seq: number;
  readonly value: string;
  readonly headers: string | null;
  readonly created_at: number;
}

/**
 * Timers on SQLite. `schedule` and `cancel` run in the caller's transaction; `fireDue` is its own
 * write transaction: it reads the due timers in (due time, schedule order), appends each one's
 * record to the outbox (in the record's key's slot, stamped with the firing time) and deletes it.
 * The write lock serialises it with every other writer, in this process and others sharing the
 * file, so two schedulers never fire the same timer; a transaction in this process that is
 * cancelling a timer has already deleted its row, and a firing that read around it runs again if
 * that transaction rolls back (see the transaction runner). Settles once durable; appended records
 * wake in-process relays. `find` reads committed timers on the read connection; SQLite's failures
 * there are the stores' errors naming it and the file.
 */
export function createTimerStore(deps: StoreDeps): TimerStore<SqlTx> {
  const { writer, reader, runner, scopeOf } = deps;
  const s = {
    remove: writer.prepare('DELETE FROM herald_timers WHERE timer_id = ?'),
    insert: writer.prepare(`INSERT INTO herald_timers (${TIMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    due: writer.prepare<[number, number], DueRow>(`SELECT seq, ${TIMER_COLUMNS} FROM herald_timers WHERE due_at <= ? ORDER BY due_at, seq LIMIT ?`),
    append: writer.prepare(`INSERT INTO herald_outbox (${OUTBOX_RECORD_COLUMNS}, slot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
    fired: writer.prepare('DELETE FROM herald_timers WHERE seq = ?'),
    next: writer.prepare<[], number | null>('SELECT min(due_at) FROM herald_timers').pluck(),
    find: storeReads.guard(
      reader.prepare<[string], TimerRow>(`SELECT ${PENDING_TIMER_COLUMNS} FROM herald_timers WHERE timer_id IN (SELECT value FROM json_each(?))`),
      'timers: find',
    ),
  };

  return {
    async schedule(tx, timers) {
      const scope = await scopeOf(tx);
      for (const timer of timers) {
        const values = timerValues(timer);
        scope.run(s.remove, [timer.timerId]);
        scope.run(s.insert, values);
      }
    },
    async cancel(tx, timerId) {
      return (await scopeOf(tx)).run(s.remove, [timerId]) === 1;
    },
    fireDue({ now, limit }) {
      if (!Number.isInteger(limit) || limit < 1) throw new HeraldError(CoreErrors.invalidOptions, `timers: limit must be a positive integer, got ${limit}`);
      return runner.run((scope): FiredTimers => {
        const due = scope.all(s.due, [now, limit]);
        for (const row of due) {
          scope.run(s.append, [row.id, row.topic, row.key, row.type, row.correlation_id, row.value, row.headers, now, outboxSlot(row.key)]);
          scope.run(s.fired, [row.seq]);
        }
        if (due.length > 0) scope.appended = true;
        return { fired: due.map(toFiredTimer), nextDueAt: scope.get(s.next, []) ?? null };
      });
    },
    async find(timerIds) {
      const rows: PendingTimer[] = [];
      if (timerIds.length > 0) for (const row of s.find.all(JSON.stringify([...new Set(timerIds)]))) rows.push(toPendingTimer(row));
      return rows;
    },
  };
}
