import { OUTBOX_ENTRY_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Every record (published or not) of one correlation id, in append order. */
export function findOutboxByCorrelation(t: Tables, correlationId: string): Statement {
  return {
    text: `SELECT ${OUTBOX_ENTRY_COLUMNS} FROM ${t.outbox} WHERE correlation_id = $1 ORDER BY seq`,
    values: [correlationId],
  };
}
