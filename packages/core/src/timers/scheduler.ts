import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { MAX_TIMER_MS, systemClock, type Clock } from '../ports/clock.js';
import type { Component } from '../ports/component.js';
import { createInstrumentation, type Instrumentation } from '../ports/instrumentation.js';
import { silentLogger, type Logger } from '../ports/logger.js';
import type { FiredTimers, TimerStore } from '../ports/stores/timers.js';
import { backoffDelay, resolveBackoff, type BackoffOptions } from '../timing/backoff.js';

/** Options of the timer scheduler (`AppOptions.timers`). */
export interface TimerSchedulerOptions {
  /**
   * Longest wait between two looks at the timer store: a timer scheduled by another process is
   * fired at most this long after it is due (one scheduled in this process wakes the scheduler
   * itself). Default 1 000.
   */
  readonly pollIntervalMs?: number;
  /** Timers moved into the outbox per round. Default 500. */
  readonly batchSize?: number;
  /** Backoff between failed rounds. Default 100 ms doubling to 10 s. */
  readonly backoff?: BackoffOptions;
}

/** What the scheduler needs: the timer store, and the app's clock, logger and instrumentation. */
export interface TimerSchedulerDeps<Tx> {
  readonly timers: TimerStore<Tx>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly instrumentation?: Instrumentation;
}

/** The timer scheduler: moves due timers into the outbox, where the relay takes them. */
export interface TimerScheduler extends Component {
  /**
   * Tells a sleeping scheduler that a timer is due at `dueAt`, so it wakes by then. Call it once the
   * timer's transaction committed: a round woken before cannot see the timer.
   */
  wake(dueAt: number): void;
  /** Fires every timer due now, round after round (for tests and tools); returns how many. */
  fireDue(): Promise<number>;
}

export const TIMER_SCHEDULER_DEFAULTS = {
  pollIntervalMs: 1000,
  batchSize: 500,
  backoff: { initialDelayMs: 100, maxDelayMs: 10_000, factor: 2, jitter: 0.2 },
} as const;

/** Wait before looking again when the earliest timer is due but another scheduler holds it. */
const HELD_RETRY_MS = 50;
const WOKEN = new Error('timer scheduler woken');
const STOPPED = new Error('timer scheduler stopped');

/**
 * Creates the timer scheduler, a loop that only composes the timer store and the clock (as the
 * relay composes the outbox and the broker). Each round calls `fireDue` with the clock's time:
 * the store moves the due timers into the outbox and deletes them in one transaction, so several
 * schedulers (processes, replicas) can run at once and each timer is fired by one of them. Between
 * rounds it sleeps on the clock until the earliest pending timer is due, at most `pollIntervalMs`;
 * {@link TimerScheduler.wake} shortens the sleep for a timer just scheduled in this process. A
 * failed round is logged and retried after a backoff. Each round that fired timers emits
 * `published` facts (the fired events entered the outbox) and a `timers-fired` fact.
 * `close()` stops it; pending timers wait in the store for the next scheduler.
 */
export function createTimerScheduler<Tx>(deps: TimerSchedulerDeps<Tx>, options: TimerSchedulerOptions = {}): TimerScheduler {
  const pollIntervalMs = duration(options.pollIntervalMs ?? TIMER_SCHEDULER_DEFAULTS.pollIntervalMs, 'pollIntervalMs');
  const batchSize = positive(options.batchSize ?? TIMER_SCHEDULER_DEFAULTS.batchSize, 'batchSize');
  if (!Number.isInteger(batchSize)) throw new HeraldError(CoreErrors.invalidOptions, `timers: batchSize must be a positive integer, got ${batchSize}`);
  const backoff = resolveBackoff(options.backoff, TIMER_SCHEDULER_DEFAULTS.backoff);
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const instrumentation = deps.instrumentation ?? createInstrumentation();
  const { timers } = deps;

  let controller: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** Earliest due time this process scheduled that no round has looked for yet. */
  let hint = Number.POSITIVE_INFINITY;
  /** While sleeping: when the sleep ends, and how to end it early. */
  let sleeping: { readonly until: number; readonly interrupt: () => void } | undefined;

  async function round(): Promise<FiredTimers> {
    const now = clock.now();
    if (hint <= now) hint = Number.POSITIVE_INFINITY;
    const result = await timers.fireDue({ now, limit: batchSize });
    if (result.fired.length > 0 && instrumentation.active) report(result);
    return result;
  }

  function report(result: FiredTimers): void {
    const counts = new Map<string, { topic: string; eventType: string; count: number }>();
    for (const timer of result.fired) {
      const id = `${timer.topic}\u0000${timer.type}`;
      const entry = counts.get(id);
      if (entry) entry.count++;
      else counts.set(id, { topic: timer.topic, eventType: timer.type, count: 1 });
    }
    for (const entry of counts.values()) instrumentation.emit({ kind: 'published', ...entry });
    instrumentation.emit({ kind: 'timers-fired', count: result.fired.length });
  }

  /** How long to sleep after a round that fired fewer than a batch. */
  function idleFor(nextDueAt: number | null): number {
    const now = clock.now();
    const next = Math.min(nextDueAt ?? Number.POSITIVE_INFINITY, hint);
    if (next === Number.POSITIVE_INFINITY) return pollIntervalMs;
    // due already, yet not fired: another scheduler holds it (or a transaction cancelling it does)
    if (next <= now) return Math.min(HELD_RETRY_MS, pollIntervalMs);
    return Math.min(next - now, pollIntervalMs);
  }

  async function sleep(ms: number, signal: AbortSignal): Promise<void> {
    // stopped while the round ran: an abort listener added now would never fire
    if (signal.aborted) return;
    const local = new AbortController();
    const stop = () => local.abort(STOPPED);
    signal.addEventListener('abort', stop, { once: true });
    sleeping = { until: clock.now() + ms, interrupt: () => local.abort(WOKEN) };
    try {
      await clock.sleep(ms, local.signal).catch(() => {});
    } finally {
      sleeping = undefined;
      signal.removeEventListener('abort', stop);
    }
  }

  async function run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const result = await round();
        failures = 0;
        if (result.fired.length < batchSize) await sleep(idleFor(result.nextDueAt), signal);
      } catch (error) {
        failures++;
        const delayMs = backoffDelay(backoff, failures);
        logger.warn('timers: firing due timers failed, retrying', { error, delayMs, failures });
        await sleep(delayMs, signal);
      }
    }
  }

  return {
    name: 'timers',
    async start(signal) {
      if (loop || closing) return;
      controller = new AbortController();
      if (signal?.aborted) controller.abort(STOPPED);
      else signal?.addEventListener('abort', () => controller?.abort(STOPPED), { once: true });
      loop = run(controller.signal);
    },
    wake(dueAt) {
      if (!(dueAt < hint)) return;
      hint = dueAt;
      if (sleeping && dueAt < sleeping.until) sleeping.interrupt();
    },
    close() {
      closing ??= (async () => {
        controller?.abort(STOPPED);
        await loop;
      })();
      return closing;
    },
    async fireDue() {
      let total = 0;
      for (;;) {
        const { fired } = await round();
        total += fired.length;
        if (fired.length < batchSize) return total;
      }
    },
  };
}

function positive(value: number, name: string): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw new HeraldError(CoreErrors.invalidOptions, `timers: ${name} must be a positive number, got ${value}`);
  return value;
}

/** A wait: at most `MAX_TIMER_MS`, the longest a timer can wait (longer fires after 1 ms). */
function duration(value: number, name: string): number {
  positive(value, name);
  if (value > MAX_TIMER_MS) throw new HeraldError(CoreErrors.invalidOptions, `timers: ${name} must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${value}`);
  return value;
}
