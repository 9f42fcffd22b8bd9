import {
  byCloseOrder,
  byWindowOrder,
  checkWindowChange,
  checkWindowPartition,
  type StoredWindow,
  type WindowPartitionSummary,
  type WindowStore,
} from '@herald/core';
import type { MemoryDatabase, MemoryTx, TxState } from './memoryTx.js';

/** The memory window store plus the commit step that applies a transaction's changes. */
export interface MemoryWindows extends WindowStore<MemoryTx> {
  applyCommitted(state: TxState): void;
}

interface PartitionData {
  streamTime: number | undefined;
  late: number;
  /** By `start \0 key`. */
  readonly windows: Map<string, StoredWindow>;
}

const WHO = 'memory stores';
const partitionId = (store: string, partition: number) => `${store}\u0000${partition}`;
const windowId = (window: { key: string; start: number }) => `${window.start}\u0000${window.key}`;
const summaryOf = ([partition, data]: readonly [number, PartitionData]): WindowPartitionSummary => ({ partition, streamTime: data.streamTime, late: data.late });

/**
 * Window state in memory. An update takes the partition's row lock (as `SELECT ... FOR UPDATE`
 * would), so a second transaction updating the same partition waits until the first settled,
 * then reads what it committed. The transaction works on its own copy of the partition, which
 * replaces the committed one when it commits and is dropped when it rolls back.
 */
export function createMemoryWindows(db: MemoryDatabase): MemoryWindows {
  const committed = new Map<string, PartitionData>();
  const pending = new WeakMap<TxState, Map<string, PartitionData>>();

  function working(state: TxState, id: string): PartitionData {
    let copies = pending.get(state);
    if (!copies) pending.set(state, (copies = new Map()));
    let data = copies.get(id);
    if (!data) {
      const source = committed.get(id);
      data = { streamTime: source?.streamTime, late: source?.late ?? 0, windows: new Map(source?.windows) };
      copies.set(id, data);
    }
    return data;
  }

  /** The committed partitions of `store` that have a stream time, in partition order. */
  function committedOf(store: string): (readonly [number, PartitionData])[] {
    const prefix = `${store}\u0000`;
    return [...committed.entries()]
      .filter(([id, data]) => id.startsWith(prefix) && data.streamTime !== undefined)
      .map(([id, data]) => [Number(id.slice(prefix.length)), data] as const)
      .sort((a, b) => a[0] - b[0]);
  }

  return {
    async update(tx, partition, keys, change) {
      checkWindowPartition(partition, WHO);
      const state = db.stateOf(tx);
      const id = partitionId(partition.store, partition.partition);
      await db.lock(state, `windows\u0000${id}`);
      db.stateOf(tx); // still open after the wait
      const data = working(state, id);
      const wanted = new Set(keys);
      const windows = [...data.windows.values()].filter((window) => wanted.has(window.key)).sort(byWindowOrder);
      const proposed = change({ streamTime: data.streamTime, windows: windows.map((window) => ({ ...window })) });
      if (proposed === undefined) return [];
      const checked = checkWindowChange(proposed, data.streamTime, WHO);
      for (const window of checked.delete) data.windows.delete(windowId(window));
      for (const window of checked.put) data.windows.set(windowId(window), window);
      data.streamTime = checked.streamTime;
      data.late += checked.late;
      const closed = [...data.windows.values()].filter((window) => window.closeAt <= checked.streamTime);
      for (const window of closed) data.windows.delete(windowId(window));
      return closed.sort(byCloseOrder);
    },
    async read(store) {
      const owned = committedOf(store);
      return {
        partitions: owned.map(summaryOf),
        windows: owned.flatMap(([partition, data]) => [...data.windows.values()].sort(byWindowOrder).map((window) => ({ ...window, partition }))),
      };
    },
    async partitions(store) {
      return committedOf(store).map(summaryOf);
    },
    applyCommitted(state) {
      for (const [id, data] of pending.get(state) ?? []) committed.set(id, data);
    },
  };
}
