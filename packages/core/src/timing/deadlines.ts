import { MAX_TIMER_MS, type Clock } from '../ports/clock.js';

/** Something with a deadline that can be expired. */
export interface Expirable {
  deadline: number;
  expire(): void;
}

/**
 * Deadlines of many short-lived attempts with one timer. Attempts of one policy share one duration,
 * so they are added in deadline order: the timer only ever needs the oldest, and adding or removing
 * an attempt is a Set operation instead of a timer allocation (a timer per event showed up in
 * profiles as the timer list's bookkeeping).
 */
export class Deadlines {
  private readonly pending = new Set<Expirable>();
  private cancelTimer: (() => void) | undefined;
  private armedFor = Infinity;

  constructor(private readonly clock: Clock) {}

  add(item: Expirable): void {
    this.pending.add(item);
    if (item.deadline < this.armedFor) this.arm(item.deadline);
  }

  delete(item: Expirable): void {
    this.pending.delete(item);
    if (this.pending.size === 0) this.disarm();
  }

  private arm(at: number): void {
    this.cancelTimer?.();
    this.armedFor = at;
    // a deadline beyond the longest timer is armed for that long and re-armed then (a longer
    // delay would fire after 1 ms, re-arming in a hot loop)
    this.cancelTimer = this.clock.setTimer(Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.now())), () => this.fire());
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.armedFor = Infinity;
  }

  private fire(): void {
    this.cancelTimer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    for (const item of this.pending) {
      if (item.deadline > now) {
        this.arm(item.deadline);
        return;
      }
      this.pending.delete(item);
      item.expire();
    }
  }
}
