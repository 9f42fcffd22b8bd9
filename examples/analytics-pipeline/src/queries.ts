import { HeraldError, type WindowStore } from '@herald/core';
import type { AnalyticsStore } from '@herald/analytics';
import { PipelineErrors } from './errors.js';
import { isClosed, readClosingGrace } from './grace.js';
import { MINUTE_MS, MINUTE_WINDOW_STORE } from './services/consumer.js';
import { epochMsOf } from './time.js';

/** The window sizes the API serves; every one is a whole number of the stream's minutes. */
export const WINDOWS = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000 } as const;
export type WindowName = keyof typeof WINDOWS;

/** A time range as clients give it: RFC 3339 times, `from` inclusive, `to` exclusive. */
export interface RangeInput {
  readonly from: string;
  readonly to: string;
}

/**
 * A series of whole windows, and the range they cover: the range asked for, widened to the window
 * boundaries around it (`from` down to the start of the window it falls in, `to` up to the end of
 * the window it falls in; either stays as it is on a boundary), so that each window counts all of
 * its span, as its start and end say.
 */
export interface Series<P> {
  readonly from: string;
  readonly to: string;
  readonly series: P[];
}

export interface CountPoint {
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly count: number;
  readonly uniqueUsers: number;
}

export interface UserView {
  readonly userId: string;
  readonly events: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly byType: Readonly<Record<string, number>>;
}

export interface MetricPoint {
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly avg: number;
  readonly p95: number;
}

export interface LatePoint {
  readonly type: string;
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly count: number;
}

/** The analytics service's queries, shared by its HTTP and gRPC faces; answers are what both send. */
export interface Queries {
  counts(input: RangeInput & { readonly window?: string; readonly type?: string }): Promise<Series<CountPoint>>;
  user(userId: string): Promise<UserView>;
  topTypes(input: RangeInput & { readonly limit?: number }): Promise<{ types: { type: string; count: number }[] }>;
  metricSummary(input: RangeInput & { readonly name: string; readonly window?: string }): Promise<Series<MetricPoint>>;
  late(input: RangeInput): Promise<{ from: string; to: string; late: LatePoint[] }>;
}

/** Options of {@link createQueries}. */
export interface QueriesOptions {
  readonly store: AnalyticsStore;
  /**
   * The stream's window state: each partition's stream time, with the grace the consumer recorded
   * there (`GRACE_STORE`, see `grace.ts`), says which windows are final. Only its partitions and
   * that record are read: the open windows hold every raw event of every open user-minute.
   */
  readonly windows: Pick<WindowStore<unknown>, 'partitions' | 'read'>;
  /**
   * This process's `STREAM_GRACE_MS`, used only while no consumer has recorded its grace (a window
   * is final once every partition's stream time passed its end plus the grace the consumer closes
   * minutes with, whatever this process was given).
   */
  readonly graceMs: number;
  /** How long the store keeps each kind of record (`ANALYTICS_RETENTION_MS`): older ones are deleted by its sweeps. */
  readonly retentionMs: number;
  /** The clock `retentionMs` is counted back from. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Answers seed 001's queries from the analytics store. Events are in the store once their minute
 * closed, so users and top types only ever count closed minutes. `counts` and `metricSummary`
 * answer whole windows: a range off the window boundaries is widened to them, and the answer says
 * which range it covers (`from`, `to`). `counts` answers final windows only: a window
 * `[start, end)` of any size is final once every partition that has a stream time has passed
 * `end + grace` (no partition that has seen an event will add to it any more; what arrives for it
 * is late). A partition that never received an event has no stream time and holds nothing back
 * (Flink's idle sources; an event arriving there later for a final window would count in it).
 * `late` answers the late events of the minutes starting in the range, widened to whole minutes.
 * Only what retention keeps is answered, the same whenever the sweeps run: a range reaching back
 * past `retentionMs` starts at the first whole window inside it (`from` says so), top types count
 * the range from `now - retentionMs` on, and a user's summary counts their kept events.
 */
export function createQueries(options: QueriesOptions): Queries {
  const { store } = options;
  const now = options.now ?? Date.now;
  /** Event time from which every record is kept: the sweeps delete only what is older. */
  const keptFrom = () => now() - options.retentionMs;

  /**
   * Which window ends are final: past the smallest stream time by the consumer's grace. The grace
   * is read after the stream times: a consumer restarted in between with another grace recorded it
   * before its stream times moved, so the record read is the one those times were reached under
   * (or, for a lowered grace, keeps the old one for the minutes still open by it).
   */
  const finality = async (): Promise<(windowEnd: number) => boolean> => {
    const partitions = await options.windows.partitions(MINUTE_WINDOW_STORE);
    const times = partitions.flatMap((p) => (p.streamTime === undefined ? [] : [p.streamTime]));
    const grace = (await readClosingGrace(options.windows)) ?? { graceMs: options.graceMs };
    if (times.length === 0) return () => false;
    const minStreamTime = Math.min(...times);
    return (windowEnd) => isClosed(windowEnd, minStreamTime, grace);
  };

  return {
    async counts(input) {
      const windowMs = windowOf(input.window);
      const range = kept(wholeWindows(rangeOf(input), windowMs), windowMs, keptFrom());
      // stream times first, the store after: a partition appends a minute's events before it
      // commits the stream time that closed the minute, so every window final at the first read is
      // whole at the second. Read together (or the store first), a minute another partition
      // closed in between was answered final with only the events of those that closed it before.
      const final = await finality();
      const series = await store.counts({ ...range, windowMs, ...(input.type ? { type: input.type } : {}) });
      return {
        from: iso(range.from),
        to: iso(range.to),
        series: series
          .filter((w) => final(w.windowEnd))
          .map((w) => ({ windowStart: iso(w.windowStart), windowEnd: iso(w.windowEnd), count: w.count, uniqueUsers: w.uniqueUsers })),
      };
    },
    async user(userId) {
      const summary = await store.user(userId);
      if (!summary) throw new HeraldError(PipelineErrors.userNotFound, `user ${userId} has no event in a closed window`);
      return { userId, events: summary.events, firstSeen: iso(summary.firstSeen), lastSeen: iso(summary.lastSeen), byType: summary.byType };
    },
    async topTypes(input) {
      const limit = input.limit ?? 10;
      if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw invalid(`limit must be an integer from 1 to 1000, got ${limit}`);
      const range = kept(rangeOf(input), 1, keptFrom());
      return { types: await store.topTypes({ ...range, limit }) };
    },
    async metricSummary(input) {
      const windowMs = windowOf(input.window);
      const range = kept(wholeWindows(rangeOf(input), windowMs), windowMs, keptFrom());
      const series = await store.metricSummary({ name: input.name, ...range, windowMs });
      return { from: iso(range.from), to: iso(range.to), series: series.map((w) => ({ ...w, windowStart: iso(w.windowStart), windowEnd: iso(w.windowEnd) })) };
    },
    async late(input) {
      // a range, as every other query: late events accumulate for the whole retention, and all of
      // them would be read and sent at every call
      const range = kept(wholeWindows(rangeOf(input), MINUTE_MS), MINUTE_MS, keptFrom());
      const late = await store.late(range);
      return { from: iso(range.from), to: iso(range.to), late: late.map((w) => ({ type: w.type, windowStart: iso(w.windowStart), windowEnd: iso(w.windowEnd), count: w.count })) };
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

function rangeOf(input: RangeInput): { from: number; to: number } {
  const from = time('from', input.from);
  const to = time('to', input.to);
  if (!(from < to)) throw invalid(`from (${input.from}) must be before to (${input.to})`);
  return { from, to };
}

/**
 * `range` widened to whole windows of `windowMs` (aligned to the epoch, as the store's windows
 * are): the store counts only what lies in the range it is given, so a range starting or ending
 * inside a window would get that window back counting part of its span, labelled as the whole.
 */
function wholeWindows(range: { from: number; to: number }, windowMs: number): { from: number; to: number } {
  return { from: range.from - (range.from % windowMs), to: Math.ceil(range.to / windowMs) * windowMs };
}

/**
 * `range` without what retention may have deleted: `from` raised to the first boundary of a window
 * of `windowMs` at or after `keptFrom` (every record from there on is kept; a window before it may
 * be swept in part or whole, depending on when the sweep last ran), never past `to`.
 */
function kept(range: { from: number; to: number }, windowMs: number, keptFrom: number): { from: number; to: number } {
  const first = Math.ceil(keptFrom / windowMs) * windowMs;
  return { from: Math.min(Math.max(range.from, first), range.to), to: range.to };
}

function time(name: string, value: string | undefined): number {
  if (!value) throw invalid(`${name} is required (an RFC 3339 time)`);
  const parsed = epochMsOf(value);
  if ('problem' in parsed) throw invalid(`${name} ${parsed.problem}, got ${JSON.stringify(value)}`);
  return parsed.ms;
}

function windowOf(value: string | undefined): number {
  const name = value || '1m';
  if (!Object.hasOwn(WINDOWS, name)) throw invalid(`window must be one of ${Object.keys(WINDOWS).join(', ')}, got "${name}"`);
  return WINDOWS[name as WindowName];
}

function invalid(message: string): HeraldError {
  return new HeraldError(PipelineErrors.invalidQuery, message);
}
