import { byCloseOrder, byWindowOrder, checkWindowChange, checkWindowPartition, type SqlTx, type WindowStore } from '@herald/core';
import { toNumberOrNull, toStoredWindow, toWindowPartitions, toWindowSnapshot, type WindowPartitionRow, type WindowRow } from '@herald/sql';
import type { Db } from '../db.js';
import { queryInTx } from '../txStatements.js';
import { lockWindowPartition } from './lockWindowPartition.js';
import { readWindowPartitions } from './readWindowPartitions.js';
import { readWindows } from './readWindows.js';
import { readWindowSnapshot } from './readWindowSnapshot.js';
import { writeWindowChange } from './writeWindowChange.js';

const WHO = 'pgStores';

/**
 * Window state on PostgreSQL, in three statements per update: lock the partition's row (creating
 * it), read the keys' windows (a fresh snapshot, taken after the lock, so it sees what the last
 * holder committed), then write the change and take out the closed windows in one statement.
 * Updates of one partition queue on its row lock until the holder's transaction ends; updates of
 * different partitions do not wait for each other. `read` and `partitions` run outside any
 * transaction, on the pool: they see what committed.
 */
export function pgWindowStore(db: Db): WindowStore<SqlTx> {
  return {
    async update(tx, partition, keys, change) {
      checkWindowPartition(partition, WHO);
      const locked = await queryInTx(tx, 'lock window partition', lockWindowPartition(db.t, partition));
      const current = toNumberOrNull((locked.rows[0] as { stream_time: string | number | null } | undefined)?.stream_time) ?? undefined;
      const windows =
        keys.length === 0 ? [] : (await queryInTx(tx, 'read windows', readWindows(db.t, partition, keys))).rows.map((row) => toStoredWindow(row as WindowRow)).sort(byWindowOrder);
      const proposed = change({ streamTime: current, windows });
      if (proposed === undefined) return [];
      const checked = checkWindowChange(proposed, current, WHO);
      // a put the new stream time already closed is never written: it is removed (it may replace a
      // stored window) and returned as closed with the others
      const closedPuts = checked.put.filter((w) => w.closeAt <= checked.streamTime);
      const openPuts = checked.put.filter((w) => w.closeAt > checked.streamTime);
      const deletes = [...checked.delete, ...closedPuts.map((w) => ({ key: w.key, start: w.start }))];
      const written = await queryInTx(tx, 'write window change', writeWindowChange(db.t, partition, checked, openPuts, deletes));
      return [...written.rows.map((row) => toStoredWindow(row as WindowRow)), ...closedPuts].sort(byCloseOrder);
    },
    async read(store) {
      const statements = readWindowSnapshot(db.t, store);
      const [partitions, windows] = await Promise.all([
        db.run<WindowPartitionRow & Record<string, unknown>>('read window partitions', statements.partitions),
        db.run<WindowRow & { partition: number } & Record<string, unknown>>('read windows', statements.windows),
      ]);
      return toWindowSnapshot(partitions.rows, windows.rows);
    },
    async partitions(store) {
      return toWindowPartitions((await db.run<WindowPartitionRow & Record<string, unknown>>('read window partitions', readWindowPartitions(db.t, store))).rows);
    },
  };
}
