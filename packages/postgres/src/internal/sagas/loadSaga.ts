import { SAGA_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Reads an instance inside a transaction and locks its row until the transaction ends: a second
 * transaction loading it waits, then reads what the first committed.
 */
export function loadSaga(t: Tables, saga: string, instanceId: string): Statement {
  return {
    name: `${t.statementPrefix}load_saga`,
    text: `SELECT ${SAGA_COLUMNS} FROM ${t.sagas} WHERE saga = $1 AND instance_id = $2 FOR UPDATE`,
    values: [saga, instanceId],
  };
}

/** Reads a committed instance, outside any transaction. */
export function findSaga(t: Tables, saga: string, instanceId: string): Statement {
  return {
    name: `${t.statementPrefix}find_saga`,
    text: `SELECT ${SAGA_COLUMNS} FROM ${t.sagas} WHERE saga = $1 AND instance_id = $2`,
    values: [saga, instanceId],
  };
}
