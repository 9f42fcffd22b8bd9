import { CoreErrors, HeraldError, type SagaRecord } from '@herald/core';
import { toNumber } from './integers.js';

/** A saga instance row, with the column names both engines use; `state` is JSON text. */
export interface SagaRow {
  readonly saga: string;
  readonly instance_id: string;
  readonly status: string;
  readonly version: number | string;
  readonly state: string;
  readonly created_at: number | string;
  readonly updated_at: number | string;
}

/** The columns {@link sagaValues} writes and {@link toSagaRecord} reads, in order. */
export const SAGA_COLUMNS = 'saga, instance_id, status, version, state, created_at, updated_at';

/** Column values of a saga instance, in {@link SAGA_COLUMNS} order; refuses a version that is not a positive integer. */
export function sagaValues(record: SagaRecord): [string, string, string, number, string, number, number] {
  if (!Number.isSafeInteger(record.version) || record.version < 1) {
    throw new HeraldError(CoreErrors.invalidOptions, `sagas: version must be a positive integer, got ${record.version}`);
  }
  return [record.saga, record.instanceId, record.status, record.version, JSON.stringify(record.state ?? null), record.createdAt, record.updatedAt];
}

export function toSagaRecord(row: SagaRow): SagaRecord {
  return {
    saga: row.saga,
    instanceId: row.instance_id,
    status: row.status,
    version: toNumber(row.version),
    state: JSON.parse(row.state) as unknown,
    createdAt: toNumber(row.created_at),
    updatedAt: toNumber(row.updated_at),
  };
}
