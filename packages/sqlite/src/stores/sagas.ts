import type { SagaCensus, SagaInFlightStatus, SagaStore, SqlTx } from '@herald/core';
import { SAGA_COLUMNS, sagaValues, toSagaRecord, type SagaRow } from '@herald/sql';
import { storeReads } from '../internal/storeErrors.js';
import type { StoreDeps } from './outbox.js';

/**
 * Retention, with the cutoff and the limit as parameters: deletes up to `limit` instances that
 * finished (`completed`, `failed`) and were last saved before `cutoff`, oldest first through the
 * partial index `herald_sagas_finished` (its condition is this one, word for word), each found by
 * its primary key. A running instance, one awaiting its start event (it holds events already taken:
 * deleting it would lose them) or one of any other status is never deleted. One statement finds and deletes, so an instance saved
 * before it ran (running again, or young) stays.
 */
export const PURGE_SAGAS_SQL = `DELETE FROM herald_sagas WHERE (saga, instance_id) IN (
    SELECT saga, instance_id FROM herald_sagas
    WHERE status IN ('completed', 'failed') AND updated_at < ?
    ORDER BY updated_at LIMIT ?)`;

/**
 * The census of instances in flight: per saga and status, how many and the oldest first save, from
 * the covering partial index `herald_sagas_in_flight` alone (its condition is this one, word for
 * word), however many ended instances are kept. Binary collation: saga names in byte order.
 */
export const IN_FLIGHT_SQL = `SELECT saga, status, count(*) AS count, min(created_at) AS oldest_created_at FROM herald_sagas
    WHERE status IN ('running', 'awaiting-start')
    GROUP BY saga, status ORDER BY saga, status`;

/**
 * Saga instances on SQLite. `load` and `save` run in the caller's transaction. Transactions of one
 * process share the write connection and see each other's writes as they happen, so two that read
 * the same version cannot both save it: the second's compare-and-set finds the first's row (and
 * loads it again); if the first then rolls back, the second's reads no longer replay and it runs
 * again (see the transaction runner). Other processes wait for the file's write lock. `find` reads
 * committed rows on the read connection, and so does `inFlight` (the census, see {@link IN_FLIGHT_SQL});
 * SQLite's failures there are the stores' errors naming it and the file.
 */
export function createSagaStore(deps: StoreDeps): SagaStore<SqlTx> & SagaCensus {
  const { writer, reader, scopeOf } = deps;
  const s = {
    load: writer.prepare<[string, string], SagaRow>(`SELECT ${SAGA_COLUMNS} FROM herald_sagas WHERE saga = ? AND instance_id = ?`),
    insert: writer.prepare(`INSERT INTO herald_sagas (${SAGA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (saga, instance_id) DO NOTHING`),
    update: writer.prepare('UPDATE herald_sagas SET status = ?, version = ?, state = ?, updated_at = ? WHERE saga = ? AND instance_id = ? AND version = ?'),
    find: storeReads.guard(reader.prepare<[string, string], SagaRow>(`SELECT ${SAGA_COLUMNS} FROM herald_sagas WHERE saga = ? AND instance_id = ?`), 'sagas: find'),
    inFlight: storeReads.guard(reader.prepare<[], { saga: string; status: SagaInFlightStatus; count: number; oldest_created_at: number }>(IN_FLIGHT_SQL), 'sagas: inFlight'),
  };
  return {
    async load(tx, saga, instanceId) {
      const row = (await scopeOf(tx)).get(s.load, [saga, instanceId]);
      return row && toSagaRecord(row);
    },
    async save(tx, record) {
      const scope = await scopeOf(tx);
      const [saga, instanceId, status, version, state, createdAt, updatedAt] = sagaValues(record);
      if (version === 1) return scope.run(s.insert, [saga, instanceId, status, version, state, createdAt, updatedAt]) === 1;
      return scope.run(s.update, [status, version, state, updatedAt, saga, instanceId, version - 1]) === 1;
    },
    async find(saga, instanceId) {
      const row = s.find.get(saga, instanceId);
      return row && toSagaRecord(row);
    },
    async inFlight() {
      return s.inFlight.all().map((row) => ({ saga: row.saga, status: row.status, count: row.count, oldestCreatedAt: row.oldest_created_at }));
    },
  };
}
