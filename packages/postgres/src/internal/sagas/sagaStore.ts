import type { SagaCensus, SagaStore, SqlTx } from '@herald/core';
import { toSagaRecord, type SagaRow } from '@herald/sql';
import type { Db } from '../db.js';
import { executeInTx, queryInTx } from '../txStatements.js';
import { countSagasInFlight, toSagasInFlight, type InFlightRow } from './countSagasInFlight.js';
import { findSaga, loadSaga } from './loadSaga.js';
import { saveSaga } from './saveSaga.js';

/**
 * Saga instances on PostgreSQL. `load` reads with `FOR UPDATE`, so transactions changing one
 * instance take turns (the second reads what the first committed); only the creation of a new
 * instance can race, and there the insert of the second waits for the first and finds its row
 * (`save` returns false, the caller loads again). `find` reads committed rows, and so does the
 * census `inFlight` (one statement on the pool, see {@link countSagasInFlight}).
 */
export function pgSagaStore(db: Db): SagaStore<SqlTx> & SagaCensus {
  const t = db.t;
  return {
    async load(tx, saga, instanceId) {
      const { rows } = await queryInTx(tx, 'load saga', loadSaga(t, saga, instanceId));
      const row = rows[0] as SagaRow | undefined;
      return row && toSagaRecord(row);
    },
    async save(tx, record) {
      return (await executeInTx(tx, 'save saga', saveSaga(t, record))) === 1;
    },
    async find(saga, instanceId) {
      const { rows } = await db.run<SagaRow>('find saga', findSaga(t, saga, instanceId));
      return rows[0] && toSagaRecord(rows[0]);
    },
    async inFlight() {
      const { rows } = await db.run<InFlightRow>('count sagas in flight', countSagasInFlight(t));
      return rows.map(toSagasInFlight);
    },
  };
}
