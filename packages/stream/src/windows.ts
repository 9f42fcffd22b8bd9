import { CoreErrors, HeraldError } from '@herald/core';

/** A window's bounds, ms since the epoch. */
export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

/**
 * Fixed-size windows aligned to the epoch: tumbling (advance = size) or hopping (advance < size,
 * overlapping). A window covers `[start, start + size)`: the start is inclusive, the end
 * exclusive. Window `n` starts at `n * advance`. Made by {@link TimeWindows}.
 */
export interface TimeWindowsSpec {
  readonly kind: 'time';
  readonly sizeMs: number;
  readonly advanceMs: number;
  /** How long after a window's end (in stream time) it still accepts out-of-order records. */
  readonly graceMs: number;
  /**
   * The same windows hopping by `advanceMs` (0 < advanceMs <= sizeMs): each record falls into
   * `ceil(size / advance)` windows or fewer, at most {@link MAX_WINDOWS_PER_RECORD}.
   */
  advanceBy(advanceMs: number): TimeWindowsSpec;
}

/**
 * Sessions: a key's records closer to each other than the inactivity gap belong to one session
 * `[first record's time, last record's time]`, both ends inclusive. A record that bridges two
 * sessions merges them. A session that closed is gone: a record within its gap starts a new
 * session (late only if that new session is closed too); the closed one never changes. Made by
 * {@link SessionWindows}.
 */
export interface SessionWindowsSpec {
  readonly kind: 'session';
  readonly gapMs: number;
  /** How long after a session could last have been extended (its end plus the gap, in stream time) it still accepts out-of-order records. */
  readonly graceMs: number;
}

/**
 * The most windows one record may fall into (`ceil(size / advance)` of a hopping window): every
 * record updates each of its windows in the store, so a record would cost that many writes and
 * aggregates (size 1 000 000 advancing by 1: a million windows, seconds and hundreds of MiB for
 * one record). A spec beyond it is refused when it is made.
 */
export const MAX_WINDOWS_PER_RECORD = 10_000;

/** Either kind of window. */
export type Windows = TimeWindowsSpec | SessionWindowsSpec;

/**
 * Tumbling and hopping windows on event time, in Kafka Streams' vocabulary.
 *
 * @example
 * TimeWindows.ofSizeAndGrace(60_000, 10_000);                   // tumbling 1 min, 10 s grace
 * TimeWindows.ofSizeAndGrace(300_000, 30_000).advanceBy(60_000); // hopping: 5 min every minute
 */
export const TimeWindows = {
  /** Windows of `sizeMs` accepting records up to `graceMs` of stream time after their end. */
  ofSizeAndGrace(sizeMs: number, graceMs: number): TimeWindowsSpec {
    return timeWindows(sizeMs, sizeMs, graceMs);
  },
  /** Windows of `sizeMs` with no grace: a record for a window whose end stream time passed is late. */
  ofSizeWithNoGrace(sizeMs: number): TimeWindowsSpec {
    return timeWindows(sizeMs, sizeMs, 0);
  },
} as const;

/**
 * Session windows on event time, in Kafka Streams' vocabulary.
 *
 * @example
 * SessionWindows.ofInactivityGapAndGrace(30 * 60_000, 60_000); // sessions ending after 30 min of silence
 */
export const SessionWindows = {
  ofInactivityGapAndGrace(gapMs: number, graceMs: number): SessionWindowsSpec {
    positiveInteger('SessionWindows: inactivity gap', gapMs);
    nonNegativeInteger('SessionWindows: grace', graceMs);
    return Object.freeze({ kind: 'session', gapMs, graceMs });
  },
  ofInactivityGapWithNoGrace(gapMs: number): SessionWindowsSpec {
    return SessionWindows.ofInactivityGapAndGrace(gapMs, 0);
  },
} as const;

function timeWindows(sizeMs: number, advanceMs: number, graceMs: number): TimeWindowsSpec {
  positiveInteger('TimeWindows: size', sizeMs);
  nonNegativeInteger('TimeWindows: grace', graceMs);
  if (!Number.isSafeInteger(advanceMs) || advanceMs <= 0 || advanceMs > sizeMs) {
    throw new HeraldError(CoreErrors.invalidOptions, `TimeWindows: advance must be an integer in 1..${sizeMs} (the size), got ${String(advanceMs)}`);
  }
  const perRecord = Math.ceil(sizeMs / advanceMs);
  if (perRecord > MAX_WINDOWS_PER_RECORD) {
    throw new HeraldError(
      CoreErrors.invalidOptions,
      `TimeWindows: size ${sizeMs} advancing by ${advanceMs} puts each record in ${perRecord} windows, each updated in the store per record; at most ${MAX_WINDOWS_PER_RECORD}: advance by at least ${Math.ceil(sizeMs / MAX_WINDOWS_PER_RECORD)}`,
    );
  }
  return Object.freeze({ kind: 'time', sizeMs, advanceMs, graceMs, advanceBy: (advance: number) => timeWindows(sizeMs, advance, graceMs) });
}

/** The windows of a time-windows spec that contain `timestamp`, oldest first (Kafka Streams' `windowsFor`). */
export function windowsFor(spec: TimeWindowsSpec, timestamp: number): WindowBounds[] {
  const windows: WindowBounds[] = [];
  let start = Math.floor(Math.max(0, timestamp - spec.sizeMs + spec.advanceMs) / spec.advanceMs) * spec.advanceMs;
  for (; start <= timestamp; start += spec.advanceMs) windows.push({ start, end: start + spec.sizeMs });
  return windows;
}

/**
 * The stream time from which a window is closed. A time window `[start, end)` closes once stream
 * time reaches `end + grace`. A session `[start, end]` could still be extended by a record at
 * `end + gap`, so it closes once stream time passes `end + gap + grace`.
 */
export function closeAt(spec: Windows, window: WindowBounds): number {
  return spec.kind === 'time' ? window.end + spec.graceMs : window.end + spec.gapMs + spec.graceMs + 1;
}

function positiveInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new HeraldError(CoreErrors.invalidOptions, `${what} must be a positive integer (ms), got ${String(value)}`);
}

function nonNegativeInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new HeraldError(CoreErrors.invalidOptions, `${what} must be an integer >= 0 (ms), got ${String(value)}`);
}
