import type { WindowPartition } from '@herald/core';
import { WINDOW_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** The partition's stored windows of `keys` (primary key lookups). */
export function readWindows(t: Tables, partition: WindowPartition, keys: readonly string[]): Statement {
  return {
    name: `${t.statementPrefix}read_windows`,
    text: `SELECT ${WINDOW_COLUMNS} FROM ${t.windows} WHERE store = $1 AND partition = $2 AND key = ANY($3::text[])`,
    values: [partition.store, partition.partition, [...new Set(keys)]],
  };
}
