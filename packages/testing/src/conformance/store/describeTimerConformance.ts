import { describeStoreSuite, type StorePlanEntry } from './abilitySuite.js';
import type { StoreConformanceOptions } from './harness.js';
import {
  cancelsPending,
  commitsWithTransaction,
  firesInDueOrder,
  firesOnceUnderConcurrency,
  firesWhenDue,
  neverFiresWhatIsBeingCancelled,
  persistsTimers,
  replacesPending,
  type TimerTestStores,
} from './timerTests.js';

/** Every test of the timer suite, by exact title. */
export const TIMER_CONFORMANCE_TESTS = [
  'keeps timers until due, then moves them into the outbox and reports the next due time',
  'commits schedules and cancellations with the transaction, or not at all',
  'cancels a pending timer once, and never fires it',
  'replaces a pending timer scheduled again under its id',
  'fires due timers oldest first, in schedule order for equal times, at most limit per call',
  'fires each due timer exactly once when several schedulers fire at once',
  'never both cancels and fires a timer an open transaction is cancelling',
  'keeps pending timers across reopen',
] as const;

export type TimerConformanceTest = (typeof TIMER_CONFORMANCE_TESTS)[number];

/**
 * Declares the conformance suite of the timer ability (`hasTimers(stores)`): timers scheduled in a
 * transaction wait until due and are then moved into the outbox (record untouched, stamped with
 * the firing time) in due order, exactly once however many schedulers fire at once; schedules and
 * cancellations commit or roll back with their transaction; an id scheduled again replaces its
 * timer; a timer being cancelled is never fired too; and with `durable` pending timers survive a
 * reopen. Time is whatever the suite passes as `now`, so engines need no clock for it. Same harness
 * as `describeStoreConformance`.
 */
export function describeTimerConformance<Tx, S extends TimerTestStores<Tx>>(options: StoreConformanceOptions<Tx, S, TimerConformanceTest>): void {
  const plan: readonly StorePlanEntry<Tx, S, TimerConformanceTest>[] = [
    ['keeps timers until due, then moves them into the outbox and reports the next due time', firesWhenDue, []],
    ['commits schedules and cancellations with the transaction, or not at all', commitsWithTransaction, []],
    ['cancels a pending timer once, and never fires it', cancelsPending, []],
    ['replaces a pending timer scheduled again under its id', replacesPending, []],
    ['fires due timers oldest first, in schedule order for equal times, at most limit per call', firesInDueOrder, []],
    ['fires each due timer exactly once when several schedulers fire at once', firesOnceUnderConcurrency, []],
    ['never both cancels and fires a timer an open transaction is cancelling', neverFiresWhatIsBeingCancelled, []],
    ['keeps pending timers across reopen', persistsTimers, ['durable']],
  ];
  describeStoreSuite('Timer conformance', TIMER_CONFORMANCE_TESTS, plan, options);
}
