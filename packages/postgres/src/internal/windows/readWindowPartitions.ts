import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * An aggregation's partitions (stream time, late count): its rows of the partitions table alone
 * (a range of its primary key), so no window row is read, however many are open. Read every
 * second by the stream's idle clock and by queries asking which windows are final.
 */
export function readWindowPartitions(t: Tables, store: string): Statement {
  return {
    name: `${t.statementPrefix}read_window_partitions`,
    text: `SELECT partition, stream_time, late FROM ${t.windowPartitions} WHERE store = $1`,
    values: [store],
  };
}
