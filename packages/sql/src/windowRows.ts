import { byWindowOrder, type StoredWindow, type WindowPartitionSummary, type WindowSnapshot } from '@herald/core';
import { toNumber, toNumberOrNull } from './integers.js';

/** A window row, with the column names both engines use (`bigint` columns arrive as strings from node-postgres). */
export interface WindowRow {
  readonly key: string;
  readonly start_at: number | string;
  readonly end_at: number | string;
  readonly close_at: number | string;
  readonly value: string;
}

/** A window partition row. */
export interface WindowPartitionRow {
  readonly partition: number | string;
  readonly stream_time: number | string | null;
  readonly late: number | string;
}

/** The columns {@link toStoredWindow} reads. */
export const WINDOW_COLUMNS = 'key, start_at, end_at, close_at, value';

export function toStoredWindow(row: WindowRow): StoredWindow {
  return { key: row.key, start: toNumber(row.start_at), end: toNumber(row.end_at), closeAt: toNumber(row.close_at), value: row.value };
}

/** An aggregation's partitions from its partition rows, as the port orders them (by number); partitions without a stream time are left out. */
export function toWindowPartitions(partitions: readonly WindowPartitionRow[]): WindowPartitionSummary[] {
  return partitions
    .filter((row) => row.stream_time !== null)
    .map((row) => ({ partition: toNumber(row.partition), streamTime: toNumberOrNull(row.stream_time) ?? undefined, late: toNumber(row.late) }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * An aggregation's snapshot from its partition rows and its window rows (each with its
 * `partition`), ordered as the port says: partitions as {@link toWindowPartitions}, windows by
 * partition, key (as JavaScript compares strings, whatever the database's collation) and start.
 */
export function toWindowSnapshot(partitions: readonly WindowPartitionRow[], windows: readonly (WindowRow & { readonly partition: number | string })[]): WindowSnapshot {
  return {
    partitions: toWindowPartitions(partitions),
    windows: windows
      .map((row) => ({ ...toStoredWindow(row), partition: toNumber(row.partition) }))
      .sort((a, b) => a.partition - b.partition || byWindowOrder(a, b)),
  };
}
