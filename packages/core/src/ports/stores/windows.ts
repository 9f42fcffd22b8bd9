import { CoreErrors } from '../../model/errorCodes.js';
import { HeraldError } from '../../model/errors.js';
import type { Stores } from './stores.js';

/**
 * Window state: the open windows of the windowed aggregations (`@herald/stream`), kept per
 * aggregation (`store`), partition, key and window start, with each partition's stream time.
 * Shared by every member of a consumer group, so the member that takes a partition over finds
 * its windows and its stream time where the last owner committed them.
 */

/** One open window of one key, as stored. */
export interface StoredWindow {
  readonly key: string;
  /** Window start, ms (inclusive). With `key`, identifies the window in its partition. */
  readonly start: number;
  /** Window end, ms (what it means, inclusive or not, is the stream package's business). */
  readonly end: number;
  /** Stream time from which the window is closed: an update moving stream time to it or past it takes the window out. */
  readonly closeAt: number;
  /** The aggregate, serialised by the caller (JSON text); stored and returned byte for byte. */
  readonly value: string;
}

/** Which partition of which aggregation. */
export interface WindowPartition {
  /** The aggregation's name, unique within the database (e.g. `analytics.counts-1m`). */
  readonly store: string;
  readonly partition: number;
}

/** What {@link WindowStore.update} reads before the change. */
export interface WindowPartitionState {
  /** The partition's stream time, or undefined when nothing was ever written for it. */
  readonly streamTime: number | undefined;
  /** The stored windows of the keys asked for, in (key, start) order (see {@link byWindowOrder}). */
  readonly windows: readonly StoredWindow[];
}

/** What a change writes. Deletes apply before puts. */
export interface WindowChange {
  /** The partition's new stream time. A value below the stored one is ignored (stream time never goes back). */
  readonly streamTime: number;
  /** Windows to write, replacing a stored window of the same key and start. */
  readonly put?: readonly StoredWindow[];
  /** Windows to remove (merged sessions). */
  readonly delete?: readonly { readonly key: string; readonly start: number }[];
  /** Late records this change sent to the side output: added to the partition's count. */
  readonly late?: number;
}

/** One partition as committed: its stream time and how many late records it counted. */
export interface WindowPartitionSummary {
  readonly partition: number;
  readonly streamTime: number | undefined;
  readonly late: number;
}

/** An aggregation's committed state, for inspection, tests and the read side. */
export interface WindowSnapshot {
  /** In partition order. */
  readonly partitions: readonly WindowPartitionSummary[];
  /** Open windows in (partition, key, start) order. */
  readonly windows: readonly (StoredWindow & { readonly partition: number })[];
}

/**
 * The window state store.
 *
 * Contract for `update`: inside `tx`, it reads the partition's stream time and the stored windows
 * of `keys`, calls `change` once, synchronously, with them (it must not await: the read, the
 * change and the writes are one step), writes what it returns (nothing when it returns
 * undefined), then removes and returns every window of the partition whose `closeAt` is at or
 * below the partition's stream time after the change, windows just put included, in (closeAt,
 * key, start) order; so no stored window is ever closed. Times are integers (ms); a malformed
 * partition or change is refused with `invalid-options` (see {@link checkWindowChange}). Two
 * transactions updating the same partition never interleave: the second reads what the first
 * wrote, once the first committed (or, where the engine runs transactions on one connection, as
 * the first wrote it, the second being run again if the first rolls back). Everything commits or
 * rolls back with `tx`. Partitions and stores are independent.
 */
export interface WindowStore<Tx> {
  update(
    tx: Tx,
    partition: WindowPartition,
    keys: readonly string[],
    change: (state: WindowPartitionState) => WindowChange | undefined,
  ): Promise<readonly StoredWindow[]>;
  /** The committed state of one aggregation (outside any transaction); partitions never given a stream time are left out. */
  read(store: string): Promise<WindowSnapshot>;
  /**
   * The committed partitions of one aggregation, exactly `read(store).partitions` (same order,
   * same partitions left out), read without touching a window: for the readers that need only the
   * stream times (which windows are final, when a partition last had a record), whose `read` would
   * load and decode every open window's value each time.
   */
  partitions(store: string): Promise<readonly WindowPartitionSummary[]>;
}

/** Optional ability of the stores: window state in the same transactions as everything else. */
export interface WindowStores<Tx> {
  readonly windows: WindowStore<Tx>;
}

export function hasWindowStore<S extends Stores<Tx>, Tx>(stores: S): stores is S & WindowStores<Tx> {
  const candidate = (stores as Partial<WindowStores<Tx>>).windows;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.update === 'function' &&
    typeof candidate.read === 'function' &&
    typeof candidate.partitions === 'function'
  );
}

/** A change as every store applies it: checked, stream time never going back, one write per window. */
export interface CheckedWindowChange {
  /** The partition's stream time after the change: the larger of the stored and the given one. */
  readonly streamTime: number;
  /** One entry per (key, start), the last given winning. */
  readonly put: readonly StoredWindow[];
  /** Windows to remove that are not also put (a put replaces a window anyway). */
  readonly delete: readonly { readonly key: string; readonly start: number }[];
  readonly late: number;
}

/** Checks a {@link WindowPartition} as every store must; throws `invalid-options` prefixed by `who`. */
export function checkWindowPartition(partition: WindowPartition, who: string): void {
  const fail = invalidWindows(who);
  if (typeof partition !== 'object' || partition === null) fail('a partition { store, partition } is required');
  if (typeof partition.store !== 'string' || partition.store.length === 0) fail(`store must be a non-empty string, got ${JSON.stringify(partition.store)}`);
  if (!Number.isInteger(partition.partition) || partition.partition < 0) fail(`partition must be an integer >= 0, got ${String(partition.partition)}`);
}

/**
 * Checks what a change function returned and puts it in the form the stores apply: integer times,
 * string keys and values, a non-negative late count; duplicates collapsed (the last put of a
 * window wins), deletes of windows that are also put dropped, stream time kept from going back.
 */
export function checkWindowChange(change: WindowChange, current: number | undefined, who: string): CheckedWindowChange {
  const fail = invalidWindows(who);
  if (typeof change !== 'object' || change === null) fail('the change function must return { streamTime, put?, delete?, late? } or undefined');
  if (!Number.isSafeInteger(change.streamTime)) fail(`streamTime must be an integer (ms), got ${String(change.streamTime)}`);
  const late = change.late ?? 0;
  if (!Number.isSafeInteger(late) || late < 0) fail(`late must be an integer >= 0, got ${String(late)}`);
  const put = new Map<string, StoredWindow>();
  for (const window of change.put ?? []) {
    if (typeof window?.key !== 'string' || typeof window.value !== 'string') fail('a window needs a string key and a string value');
    for (const field of ['start', 'end', 'closeAt'] as const) {
      if (!Number.isSafeInteger(window[field])) fail(`window ${field} must be an integer (ms), got ${String(window[field])}`);
    }
    const id = windowId(window);
    put.delete(id);
    put.set(id, { key: window.key, start: window.start, end: window.end, closeAt: window.closeAt, value: window.value });
  }
  const removed = new Map<string, { key: string; start: number }>();
  for (const window of change.delete ?? []) {
    if (typeof window?.key !== 'string' || !Number.isSafeInteger(window.start)) fail('a deleted window needs a string key and an integer start');
    if (!put.has(windowId(window))) removed.set(windowId(window), { key: window.key, start: window.start });
  }
  return { streamTime: current === undefined ? change.streamTime : Math.max(current, change.streamTime), put: [...put.values()], delete: [...removed.values()], late };
}

/** The order of windows read: by key (compared as JavaScript strings, whatever the database's collation), then start. */
export function byWindowOrder(a: { readonly key: string; readonly start: number }, b: { readonly key: string; readonly start: number }): number {
  return (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.start - b.start;
}

/** The order of closed windows, as `update` returns them: by closeAt, then key, then start. */
export function byCloseOrder(a: StoredWindow, b: StoredWindow): number {
  return a.closeAt - b.closeAt || byWindowOrder(a, b);
}

const windowId = (window: { readonly key: string; readonly start: number }): string => `${window.start}\u0000${window.key}`;

function invalidWindows(who: string): (message: string) => never {
  return (message) => {
    throw new HeraldError(CoreErrors.invalidOptions, `${who}: windows: ${message}`);
  };
}
