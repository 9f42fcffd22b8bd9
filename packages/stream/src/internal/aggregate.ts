import type { StoredWindow, WindowChange, WindowPartitionState } from '@herald/core';
import type { StreamRecord, WindowResult } from '../types.js';
import { closeAt, windowsFor, type SessionWindowsSpec, type TimeWindowsSpec, type WindowBounds } from '../windows.js';
import type { AggregateNode } from './graph.js';
import { assertJson } from './repartition.js';

/** A record too late for some of its windows, with the stream time it met. */
export interface Late {
  readonly record: StreamRecord<unknown>;
  readonly windows: readonly WindowBounds[];
  readonly streamTime: number;
}

/** What one pass of an aggregation over a partition's records decided. */
export interface Applied {
  /** What to write (undefined: nothing). */
  readonly change: WindowChange | undefined;
  /** Results to emit now, before the ones the store closes (emit `update`: updates and merged sessions). */
  readonly results: readonly WindowResult<unknown>[];
  readonly late: readonly Late[];
}

/** A window being worked on during one pass. */
interface Slot {
  readonly key: string;
  start: number;
  end: number;
  value: unknown;
  changed: boolean;
}

/**
 * Runs an aggregation over records of one partition, in order, against the stored state: each
 * record first moves stream time to its own time if that is later; then, for each of its windows,
 * a window already closed at that stream time is missed (the record is late for it), any other
 * is updated. `advanceTo` (an idle partition's punctuation) moves stream time further. Pure: the
 * store applies the change it returns in the same step.
 */
export function applyRecords(node: AggregateNode, records: readonly StreamRecord<unknown>[], state: WindowPartitionState, advanceTo: number | undefined): Applied {
  const pass = node.windows.kind === 'time' ? timePass(node, node.windows, records, state) : sessionPass(node, node.windows, records, state);
  let streamTime = pass.streamTime;
  if (advanceTo !== undefined && streamTime !== undefined) streamTime = Math.max(streamTime, advanceTo);
  if (streamTime === undefined || (records.length === 0 && streamTime === state.streamTime)) return { change: undefined, results: [], late: [] };
  const put = pass.live.filter((slot) => slot.changed).map((slot) => stored(node, slot));
  const change: WindowChange = { streamTime, put, delete: pass.removed, late: pass.late.length };
  return { change, results: node.emit === 'update' ? [...pass.merged, ...pass.live.filter((s) => s.changed).map((s) => result(s, 'update'))].sort(byKeyKindStart) : [], late: pass.late };
}

/** The final results of the windows the store closed (emit `final`), in the order it closed them. */
export function finalResults(node: AggregateNode, closed: readonly StoredWindow[]): WindowResult<unknown>[] {
  if (node.emit !== 'final') return [];
  return closed.map((w) => ({ key: w.key, start: w.start, end: w.end, value: JSON.parse(w.value) as unknown, kind: 'final' }));
}

/** A result's event time: the last instant of its window. */
export function resultTime(node: AggregateNode, result: WindowResult<unknown>): number {
  return node.windows.kind === 'time' ? result.end - 1 : result.end;
}

interface Pass {
  readonly streamTime: number | undefined;
  /** Windows that exist after the pass (changed ones are written). */
  readonly live: readonly Slot[];
  /** Stored windows that no longer exist. */
  readonly removed: readonly { key: string; start: number }[];
  /** Results for stored sessions that merged away (emit `update`). */
  readonly merged: readonly WindowResult<unknown>[];
  readonly late: readonly Late[];
}

function timePass(node: AggregateNode, spec: TimeWindowsSpec, records: readonly StreamRecord<unknown>[], state: WindowPartitionState): Pass {
  let streamTime = state.streamTime;
  const slots = new Map<string, Slot>();
  for (const w of state.windows) slots.set(slotId(w.key, w.start), { key: w.key, start: w.start, end: w.end, value: w.value, changed: false });
  const late: Late[] = [];
  for (const record of records) {
    streamTime = streamTime === undefined ? record.timestamp : Math.max(streamTime, record.timestamp);
    let missed: WindowBounds[] | undefined;
    for (const bounds of windowsFor(spec, record.timestamp)) {
      if (closeAt(spec, bounds) <= streamTime) {
        (missed ??= []).push(bounds);
        continue;
      }
      const id = slotId(record.key, bounds.start);
      let slot = slots.get(id);
      if (!slot) slots.set(id, (slot = { key: record.key, start: bounds.start, end: bounds.end, value: node.initial(), changed: false }));
      else if (!slot.changed) slot.value = JSON.parse(slot.value as string);
      slot.value = node.add(slot.value, record);
      slot.changed = true;
    }
    if (missed) late.push({ record, windows: missed, streamTime });
  }
  return { streamTime, live: [...slots.values()], removed: [], merged: [], late };
}

/**
 * Sessions of one key never overlap, not even with those already closed (and emitted): a record
 * inside an open session, or whose own session `[t, t]` is not yet closed at the current stream
 * time, joins (and merges) the open sessions it is within the gap of; any other record is late.
 * Closed sessions take no records: they end before every open session starts and before any
 * record not late, so a record never reaches over one, and it makes no difference whether a
 * session closed in an earlier batch (and left the state) or earlier in this one. So where batches
 * are cut never changes a result.
 */
function sessionPass(node: AggregateNode, spec: SessionWindowsSpec, records: readonly StreamRecord<unknown>[], state: WindowPartitionState): Pass {
  let streamTime = state.streamTime;
  const byKey = new Map<string, Slot[]>();
  const original = new Map<string, StoredWindow>();
  for (const w of state.windows) {
    byKey.set(w.key, [...(byKey.get(w.key) ?? []), { key: w.key, start: w.start, end: w.end, value: w.value, changed: false }]);
    original.set(slotId(w.key, w.start), w);
  }
  const late: Late[] = [];
  for (const record of records) {
    const t = record.timestamp;
    streamTime = streamTime === undefined ? t : Math.max(streamTime, t);
    const now = streamTime;
    const sessions = byKey.get(record.key) ?? [];
    // a session closed in this pass stays in the state until the store closes it (and emits its
    // result), but is never joined: as if an earlier batch had closed it
    const open = sessions.filter((s) => closeAt(spec, s) > now);
    const own = { start: t, end: t };
    // a record whose own session is already closed may lie inside or before a closed session:
    // unless it falls inside an open one (which adds nothing to its bounds), it could reach over it
    if (closeAt(spec, own) <= now && !open.some((s) => s.start <= t && t <= s.end)) {
      late.push({ record, windows: [own], streamTime: now });
      continue;
    }
    const joined = open.filter((s) => s.end >= t - spec.gapMs && s.start <= t + spec.gapMs).sort((a, b) => a.start - b.start);
    const bounds = { start: Math.min(t, ...joined.map((s) => s.start)), end: Math.max(t, ...joined.map((s) => s.end)) };
    let value: unknown;
    for (const session of joined) {
      const sessionValue = session.changed ? session.value : JSON.parse(session.value as string);
      value = value === undefined ? sessionValue : node.merge!(value, sessionValue);
    }
    const slot: Slot = { key: record.key, ...bounds, value: node.add(value === undefined ? node.initial() : value, record), changed: true };
    byKey.set(record.key, [...sessions.filter((s) => !joined.includes(s)), slot]);
  }
  const live = [...byKey.values()].flat();
  const liveBounds = new Map(live.map((s) => [slotId(s.key, s.start), s]));
  const removed: { key: string; start: number }[] = [];
  const merged: WindowResult<unknown>[] = [];
  for (const [id, w] of original) {
    const now = liveBounds.get(id);
    if (!now) removed.push({ key: w.key, start: w.start });
    // a stored session whose bounds changed was emitted with the old bounds: it no longer exists
    if (!now || now.end !== w.end) merged.push({ key: w.key, start: w.start, end: w.end, value: JSON.parse(w.value) as unknown, kind: 'merged' });
  }
  return { streamTime, live, removed, merged: node.emit === 'update' ? merged : [], late };
}

function stored(node: AggregateNode, slot: Slot): StoredWindow {
  const value = assertJson(slot.value, `aggregate ${node.name}: the aggregate of key ${JSON.stringify(slot.key)}`);
  return { key: slot.key, start: slot.start, end: slot.end, closeAt: closeAt(node.windows, slot), value };
}

function result(slot: Slot, kind: WindowResult<unknown>['kind']): WindowResult<unknown> {
  return { key: slot.key, start: slot.start, end: slot.end, value: slot.value, kind };
}

const slotId = (key: string, start: number): string => `${start}\u0000${key}`;

function byKeyKindStart(a: WindowResult<unknown>, b: WindowResult<unknown>): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === 'merged' ? -1 : 1;
  return a.start - b.start;
}
