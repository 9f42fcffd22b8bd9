import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { OUTBOX_COLUMNS } from './rows.js';

/** Every record (published or not) of one correlation id, in append order. */
export function findOutboxByCorrelation(t: Tables, correlationId: string): Statement {
  return {
    text: `SELECT ${OUTBOX_COLUMNS}, published_at FROM ${t.outbox} WHERE correlation_id = $1 ORDER BY seq`,
    values: [correlationId],
  };
}
