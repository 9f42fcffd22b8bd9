import type { SqlTx, Stores, WindowStore } from '@herald/core';
import { MINUTE_MS, MINUTE_WINDOW_STORE } from './services/consumer.js';

/**
 * The grace the consumer closes minutes with, recorded beside its window state so the analytics
 * service judges finality by it rather than by its own `STREAM_GRACE_MS`: with a smaller value
 * there, `counts` answered minutes as final before the consumer had closed them (their events not
 * yet in the store). Kept in the window store, as one window of an aggregation of its own that
 * never closes: every engine has that store, shared by every process (the analytics service reads
 * the stream times there already), and it is written in a transaction.
 */
export const GRACE_STORE = `${MINUTE_WINDOW_STORE}.grace`;
const KEY = 'grace';

/** What the analytics service needs to tell which minutes the consumer has closed. */
export interface ClosingGrace {
  /** The grace of the consumer last started (`STREAM_GRACE_MS`). */
  readonly graceMs: number;
  /**
   * A larger grace a consumer ran with before, whose minutes may still be open: those ending at
   * or before `through` (the end of the minute of the largest stream time when the grace was
   * lowered; later minutes were opened under the new one) close only once stream time passes
   * their end plus `graceMs`. Absent when no minute can still be held by a larger grace.
   */
  readonly held?: { readonly graceMs: number; readonly through: number };
}

/**
 * Records `graceMs` as the consumer's grace; call it before the consumer's groups start. When it
 * is lower than the one recorded, the minutes open at that time still close by the old grace (the
 * stream keeps each window's close time as it stored it), so the old grace is kept for them as
 * `held`. Several consumers must run with one grace: change it by stopping them all.
 */
export async function recordClosingGrace(stores: Stores<SqlTx>, windows: WindowStore<SqlTx>, graceMs: number): Promise<ClosingGrace> {
  const times = (await windows.partitions(MINUTE_WINDOW_STORE)).flatMap((p) => (p.streamTime === undefined ? [] : [p.streamTime]));
  // the end of the minute of the largest stream time: no minute ending later has had an event yet
  const now = times.length === 0 ? undefined : { minStreamTime: Math.min(...times), through: Math.floor(Math.max(...times) / MINUTE_MS) * MINUTE_MS + MINUTE_MS };
  let recorded: ClosingGrace | undefined;
  await stores.transaction((tx) =>
    windows.update(tx, { store: GRACE_STORE, partition: 0 }, [KEY], (state) => {
      const before = state.windows[0] === undefined ? undefined : (JSON.parse(state.windows[0].value) as ClosingGrace);
      recorded = closingGraceAfter(before, graceMs, now);
      // stream time 0 and a close time never reached: the record is never taken out as closed
      return { streamTime: 0, put: [{ key: KEY, start: 0, end: 0, closeAt: Number.MAX_SAFE_INTEGER, value: JSON.stringify(recorded) }] };
    }),
  );
  return recorded!;
}

/** The recorded grace, or undefined when no consumer recorded one yet (an empty data directory, or a consumer from before). */
export async function readClosingGrace(windows: Pick<WindowStore<unknown>, 'read'>): Promise<ClosingGrace | undefined> {
  const record = (await windows.read(GRACE_STORE)).windows.find((w) => w.key === KEY);
  return record === undefined ? undefined : (JSON.parse(record.value) as ClosingGrace);
}

/**
 * Whether a window ending at `end` is final, given the smallest stream time of the partitions that
 * have one: every partition has passed its end plus the grace it closes by.
 */
export function isClosed(end: number, minStreamTime: number, grace: ClosingGrace): boolean {
  if (end + grace.graceMs > minStreamTime) return false;
  return grace.held === undefined || end > grace.held.through || end + grace.held.graceMs <= minStreamTime;
}

/**
 * The record after a consumer starts with `graceMs` over `before`: `now` is the smallest stream
 * time and the end of the minute of the largest, undefined when no partition has one (no minute is open).
 */
export function closingGraceAfter(before: ClosingGrace | undefined, graceMs: number, now: { minStreamTime: number; through: number } | undefined): ClosingGrace {
  if (before === undefined || now === undefined) return { graceMs };
  // graces minutes open now may close by, each up to the last minute (by its end) it may hold: the
  // one retired now up to the current minute, an older one while some of its minutes may be open
  const larger = [
    ...(before.graceMs > graceMs ? [{ graceMs: before.graceMs, through: now.through }] : []),
    ...(before.held !== undefined && before.held.graceMs > graceMs && now.minStreamTime < before.held.through + before.held.graceMs ? [before.held] : []),
  ];
  if (larger.length === 0) return { graceMs };
  return { graceMs, held: { graceMs: Math.max(...larger.map((h) => h.graceMs)), through: Math.max(...larger.map((h) => h.through)) } };
}
