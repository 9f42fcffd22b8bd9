import type { OutboxRecord } from './outbox.js';

/** An event scheduled for later: the outbox record to append once it is due. */
export interface ScheduledRecord {
  /**
   * Names the timer. At most one pending timer has a given id: scheduling an id that is pending
   * replaces that timer (its time and its event). Up to 500 characters.
   */
  readonly timerId: string;
  /** When it is due, in ms since the epoch on the scheduling app's clock. */
  readonly dueAt: number;
  /** What is appended to the outbox when due; its `createdAt` is replaced by the firing time. */
  readonly record: OutboxRecord;
}

/** A pending timer, as the store reports it (without the event's wire value). */
export interface PendingTimer {
  readonly timerId: string;
  readonly dueAt: number;
  /** The id of the event it will publish. */
  readonly eventId: string;
  readonly topic: string;
  readonly key: string;
  readonly type: string;
  readonly correlationId: string;
}

/** What one {@link TimerStore.fireDue} call moved into the outbox. */
export interface FiredTimers {
  /** The timers fired, in due order (ties in the order they were scheduled). */
  readonly fired: readonly Pick<PendingTimer, 'timerId' | 'dueAt' | 'topic' | 'type'>[];
  /**
   * Due time of the earliest timer still pending, or null when none is. It may be at or before
   * `now` when more than `limit` were due, or when another scheduler is firing it at this moment.
   */
  readonly nextDueAt: number | null;
}

/**
 * Durable timers: events scheduled in a transaction, moved into the outbox once due. The relay
 * then publishes them like any other event, so a due timer survives restarts and reaches the
 * broker once in effect (consumers' inboxes absorb the rare duplicate publish, as for any event).
 *
 * Contract: `schedule` and `cancel` write inside `tx` and take effect when it commits (a rollback
 * leaves the pending timers as they were). `fireDue` runs its own transaction that appends the due
 * timers' records to the outbox and deletes the timers, so a timer is never lost between the two
 * and never appended twice, however many schedulers call it at once (each pending timer is fired
 * by exactly one call). A timer a running transaction is cancelling or replacing is not fired
 * until that transaction ends.
 */
export interface TimerStore<Tx> {
  /** Schedules timers inside `tx`; a pending timer with the same id is replaced. */
  schedule(tx: Tx, timers: readonly ScheduledRecord[]): Promise<void>;
  /** Cancels a pending timer inside `tx`; returns whether one was pending (false once it fired). */
  cancel(tx: Tx, timerId: string): Promise<boolean>;
  /** Moves up to `limit` timers due at or before `now` into the outbox, in one transaction that deletes them. */
  fireDue(options: { readonly now: number; readonly limit: number }): Promise<FiredTimers>;
  /** The pending timers among these ids (committed state), in no particular order. */
  find(timerIds: readonly string[]): Promise<readonly PendingTimer[]>;
}

/** Optional ability of the stores: durable timers in the same transactions as everything else. */
export interface TimerStores<Tx> {
  readonly timers: TimerStore<Tx>;
}

export function hasTimers<S extends object, Tx = unknown>(stores: S): stores is S & TimerStores<Tx> {
  const candidate = (stores as Partial<TimerStores<Tx>>).timers;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.fireDue === 'function' && typeof candidate.schedule === 'function';
}
