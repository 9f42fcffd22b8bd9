import { WINDOW_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { readWindowPartitions } from './readWindowPartitions.js';

/** An aggregation's partitions (stream time, late count) and open windows, in one statement each. */
export function readWindowSnapshot(t: Tables, store: string): { readonly partitions: Statement; readonly windows: Statement } {
  return {
    partitions: readWindowPartitions(t, store),
    windows: { text: `SELECT partition, ${WINDOW_COLUMNS} FROM ${t.windows} WHERE store = $1`, values: [store] },
  };
}
