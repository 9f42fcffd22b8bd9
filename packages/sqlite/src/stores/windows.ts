import {
  byCloseOrder,
  byWindowOrder,
  checkWindowChange,
  checkWindowPartition,
  type SqlTx,
  type WindowStore,
} from '@herald/core';
import { WINDOW_COLUMNS, toStoredWindow, toWindowPartitions, toWindowSnapshot, type WindowPartitionRow, type WindowRow } from '@herald/sql';
import { storeReads } from '../internal/storeErrors.js';
import type { StoreDeps } from './outbox.js';

const WHO = 'stores';
const READ = 'windows: read';
const READ_PARTITIONS = 'windows: partitions';

/**
 * Window state on SQLite. An update runs its statements (read the partition, read the keys'
 * windows, the change, the writes, take out the closed windows) in one synchronous step on the
 * shared connection: no other transaction of this process runs a statement in between, other
 * processes wait for the write lock, and the transaction runner replays or reruns a transaction
 * whose reads another one's rollback invalidated. So updates of one partition never interleave.
 * `read` and `partitions` read committed state on the read connection; SQLite's failures there
 * are the stores' errors naming the read and the file.
 */
export function createWindowStore(deps: StoreDeps): WindowStore<SqlTx> {
  const { writer, reader, scopeOf } = deps;
  // the partitions' rows alone (a primary key range): `partitions` never reads a window
  const partitionsOf = reader.prepare<[string], WindowPartitionRow>('SELECT partition, stream_time, late FROM herald_window_partitions WHERE store = ?');
  const s = {
    partition: writer.prepare<unknown[], { stream_time: number | null }>('SELECT stream_time FROM herald_window_partitions WHERE store = ? AND partition = ?'),
    windows: writer.prepare<unknown[], WindowRow>(
      `SELECT ${WINDOW_COLUMNS} FROM herald_windows WHERE store = ? AND partition = ? AND key IN (SELECT value FROM json_each(?))`,
    ),
    remove: writer.prepare('DELETE FROM herald_windows WHERE store = ? AND partition = ? AND key = ? AND start_at = ?'),
    put: writer.prepare(
      `INSERT INTO herald_windows (store, partition, key, start_at, end_at, close_at, value) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (store, partition, key, start_at) DO UPDATE SET end_at = excluded.end_at, close_at = excluded.close_at, value = excluded.value`,
    ),
    advance: writer.prepare(
      `INSERT INTO herald_window_partitions (store, partition, stream_time, late) VALUES (?, ?, ?, ?)
       ON CONFLICT (store, partition) DO UPDATE SET stream_time = excluded.stream_time, late = late + excluded.late`,
    ),
    close: writer.prepare<unknown[], WindowRow>(`DELETE FROM herald_windows WHERE store = ? AND partition = ? AND close_at <= ? RETURNING ${WINDOW_COLUMNS}`),
    snapshotPartitions: storeReads.guard(partitionsOf, READ),
    partitions: storeReads.guard(partitionsOf, READ_PARTITIONS),
    snapshotWindows: storeReads.guard(reader.prepare<[string], WindowRow & { partition: number }>(`SELECT partition, ${WINDOW_COLUMNS} FROM herald_windows WHERE store = ?`), READ),
  };

  return {
    async update(tx, partition, keys, change) {
      checkWindowPartition(partition, WHO);
      const scope = await scopeOf(tx);
      const { store, partition: number } = partition;
      const current = scope.get(s.partition, [store, number])?.stream_time ?? undefined;
      const windows = keys.length === 0 ? [] : scope.all(s.windows, [store, number, JSON.stringify(keys)]).map(toStoredWindow).sort(byWindowOrder);
      const proposed = change({ streamTime: current, windows });
      if (proposed === undefined) return [];
      const checked = checkWindowChange(proposed, current, WHO);
      for (const window of checked.delete) scope.run(s.remove, [store, number, window.key, window.start]);
      for (const w of checked.put) scope.run(s.put, [store, number, w.key, w.start, w.end, w.closeAt, w.value]);
      scope.run(s.advance, [store, number, checked.streamTime, checked.late]);
      return scope.all(s.close, [store, number, checked.streamTime]).map(toStoredWindow).sort(byCloseOrder);
    },
    async read(store) {
      return toWindowSnapshot(s.snapshotPartitions.all(store), s.snapshotWindows.all(store));
    },
    async partitions(store) {
      return toWindowPartitions(s.partitions.all(store));
    },
  };
}
