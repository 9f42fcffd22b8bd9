import { WINDOW_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** An aggregation's partitions (stream time, late count) and open windows, in one statement each. */
export function readWindowSnapshot(t: Tables, store: string): { readonly partitions: Statement; readonly windows: Statement } {
  return {
    partitions: { text: `SELECT partition, stream_time, late FROM ${t.windowPartitions} WHERE store = $1`, values: [store] },
    windows: { text: `SELECT partition, ${WINDOW_COLUMNS} FROM ${t.windows} WHERE store = $1`, values: [store] },
  };
}
