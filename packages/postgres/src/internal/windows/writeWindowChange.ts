import type { CheckedWindowChange, WindowPartition } from '@herald/core';
import { WINDOW_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Applies a checked change in one statement: deletes, puts (upserts), the partition's new stream
 * time and late count, and takes out (returning them) the stored windows the new stream time
 * closed. Its parts share one snapshot, so the closing part cannot see the rows the put part
 * writes, and must not touch rows the other parts change: the caller passes only puts that stay
 * open (closed ones it deletes and returns itself) and every (key, start) the change touches is
 * kept out of the closing part.
 */
export function writeWindowChange(t: Tables, partition: WindowPartition, change: CheckedWindowChange, openPuts: CheckedWindowChange['put'], deletes: CheckedWindowChange['delete']): Statement {
  const touched = [...change.put, ...deletes];
  return {
    name: `${t.statementPrefix}write_window_change`,
    text: `WITH removed AS (
        DELETE FROM ${t.windows} w USING unnest($5::text[], $6::bigint[]) AS d(key, start_at)
        WHERE w.store = $1 AND w.partition = $2 AND w.key = d.key AND w.start_at = d.start_at
      ), written AS (
        INSERT INTO ${t.windows} (store, partition, key, start_at, end_at, close_at, value)
        SELECT $1, $2, * FROM unnest($7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[])
        ON CONFLICT (store, partition, key, start_at) DO UPDATE SET end_at = EXCLUDED.end_at, close_at = EXCLUDED.close_at, value = EXCLUDED.value
      ), moved AS (
        UPDATE ${t.windowPartitions} SET stream_time = $3, late = late + $4 WHERE store = $1 AND partition = $2
      )
      DELETE FROM ${t.windows} w
      WHERE w.store = $1 AND w.partition = $2 AND w.close_at <= $3
        AND NOT EXISTS (SELECT 1 FROM unnest($12::text[], $13::bigint[]) AS x(key, start_at) WHERE x.key = w.key AND x.start_at = w.start_at)
      RETURNING ${WINDOW_COLUMNS}`,
    values: [
      partition.store,
      partition.partition,
      change.streamTime,
      change.late,
      deletes.map((d) => d.key),
      deletes.map((d) => d.start),
      openPuts.map((w) => w.key),
      openPuts.map((w) => w.start),
      openPuts.map((w) => w.end),
      openPuts.map((w) => w.closeAt),
      openPuts.map((w) => w.value),
      touched.map((w) => w.key),
      touched.map((w) => w.start),
    ],
  };
}
