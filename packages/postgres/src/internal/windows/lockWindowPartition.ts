import type { WindowPartition } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Locks the partition's row for the rest of the transaction, creating it (without a stream time)
 * when it is new, and returns its stream time. A second transaction updating the partition waits
 * here until the first ends; its next statements then see what the first committed.
 */
export function lockWindowPartition(t: Tables, partition: WindowPartition): Statement {
  return {
    name: `${t.statementPrefix}lock_window_partition`,
    text: `INSERT INTO ${t.windowPartitions} AS p (store, partition) VALUES ($1, $2)
      ON CONFLICT (store, partition) DO UPDATE SET late = p.late
      RETURNING stream_time`,
    values: [partition.store, partition.partition],
  };
}
