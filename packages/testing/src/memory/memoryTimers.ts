import { CoreErrors, HeraldError, type FiredTimers, type PendingTimer, type ScheduledRecord, type TimerStore } from '@herald/core';
import type { MemoryOutbox } from './memoryOutbox.js';
import type { MemoryDatabase, MemoryTx, TxState } from './memoryTx.js';

/** The memory timer store plus the commit step that applies a transaction's schedules and cancellations. */
export interface MemoryTimers extends TimerStore<MemoryTx> {
  applyCommitted(state: TxState): void;
}

interface Pending {
  /** Schedule order, to fire timers due at the same time in the order they were scheduled. */
  readonly seq: number;
  readonly scheduled: ScheduledRecord;
}

const MAX_TIMER_ID = 500;
const lockName = (timerId: string) => `timer\u0000${timerId}`;

/**
 * Timers over {@link MemoryDatabase}. Scheduling or cancelling takes the timer's row lock (as a SQL
 * engine's write does), which `fireDue` skips — so a timer being cancelled or replaced by an open
 * transaction waits for it — and another transaction touching the same timer waits for it.
 * `fireDue` runs in one synchronous step: it appends the due records to the outbox (with the firing
 * time as `createdAt`), deletes the timers and wakes the outbox's listeners through `appended`.
 */
export function createMemoryTimers(db: MemoryDatabase, outbox: MemoryOutbox, appended: () => void): MemoryTimers {
  const pending = new Map<string, Pending>();
  let seq = 0;

  return {
    async schedule(tx, timers) {
      const state = db.stateOf(tx);
      for (const timer of timers) {
        check(timer);
        await db.lock(state, lockName(timer.timerId));
        state.timers.set(timer.timerId, structuredClone(timer));
      }
    },

    async cancel(tx, timerId) {
      const state = db.stateOf(tx);
      await db.lock(state, lockName(timerId));
      const own = state.timers.get(timerId);
      const wasPending = own === undefined ? pending.has(timerId) : own !== null;
      state.timers.set(timerId, null);
      return wasPending;
    },

    applyCommitted(state) {
      for (const [timerId, scheduled] of state.timers) {
        pending.delete(timerId);
        if (scheduled) pending.set(timerId, { seq: ++seq, scheduled });
      }
    },

    async fireDue({ now, limit }) {
      if (!Number.isInteger(limit) || limit < 1) throw new HeraldError(CoreErrors.invalidOptions, `memory timers: limit must be a positive integer, got ${limit}`);
      const due = [...pending.values()]
        .filter((p) => p.scheduled.dueAt <= now && !db.isLocked(lockName(p.scheduled.timerId)))
        .sort((a, b) => a.scheduled.dueAt - b.scheduled.dueAt || a.seq - b.seq)
        .slice(0, limit);
      for (const { scheduled } of due) pending.delete(scheduled.timerId);
      if (outbox.insert(due.map(({ scheduled }) => ({ ...scheduled.record, createdAt: now }))) > 0) appended();
      let nextDueAt: number | null = null;
      for (const { scheduled } of pending.values()) if (nextDueAt === null || scheduled.dueAt < nextDueAt) nextDueAt = scheduled.dueAt;
      const fired: FiredTimers['fired'] = due.map(({ scheduled: { timerId, dueAt, record } }) => ({ timerId, dueAt, topic: record.topic, type: record.type }));
      return { fired, nextDueAt };
    },

    async find(timerIds) {
      const found: PendingTimer[] = [];
      for (const timerId of new Set(timerIds)) {
        const entry = pending.get(timerId);
        if (!entry) continue;
        const { dueAt, record } = entry.scheduled;
        found.push({ timerId, dueAt, eventId: record.id, topic: record.topic, key: record.key, type: record.type, correlationId: record.correlationId });
      }
      return found;
    },
  };
}

function check(timer: ScheduledRecord): void {
  if (typeof timer.timerId !== 'string' || timer.timerId.length === 0 || timer.timerId.length > MAX_TIMER_ID) {
    throw new HeraldError(CoreErrors.invalidOptions, `memory timers: timerId must be a string of 1 to ${MAX_TIMER_ID} characters`);
  }
  if (!Number.isFinite(timer.dueAt)) throw new HeraldError(CoreErrors.invalidOptions, `memory timers: dueAt of ${timer.timerId} must be a finite time in ms`);
}
