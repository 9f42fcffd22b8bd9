import type { SagaRecord } from '@herald/core';
import { SAGA_COLUMNS, sagaValues } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Saves an instance as a compare-and-set; one row changed means saved. Version 1 inserts unless
 * the instance exists (a concurrent creator's uncommitted row makes this wait for its outcome);
 * a later version updates only the row still at the version before it (`createdAt` is kept).
 */
export function saveSaga(t: Tables, record: SagaRecord): Statement {
  const [saga, instanceId, status, version, state, createdAt, updatedAt] = sagaValues(record);
  if (version === 1) {
    return {
      name: `${t.statementPrefix}insert_saga`,
      text: `INSERT INTO ${t.sagas} (${SAGA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (saga, instance_id) DO NOTHING`,
      values: [saga, instanceId, status, version, state, createdAt, updatedAt],
    };
  }
  return {
    name: `${t.statementPrefix}update_saga`,
    text: `UPDATE ${t.sagas} SET status = $3, version = $4, state = $5, updated_at = $6 WHERE saga = $1 AND instance_id = $2 AND version = $4 - 1`,
    values: [saga, instanceId, status, version, state, updatedAt],
  };
}
