import { OUTBOX_RECORD_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Every record (published or not) of one correlation id, in append order, with when it was
 * published: its own stamp (rows published before the outbox had slots), else the first
 * watermark move that covered it.
 */
export function findOutboxByCorrelation(t: Tables, correlationId: string): Statement {
  return {
    text: `SELECT ${OUTBOX_RECORD_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')},
        coalesce(o.published_at, (
          SELECT m.published_at FROM ${t.outboxMarks} m
          WHERE m.slot = o.slot AND (m.up_to_txid, m.up_to_seq) >= (o.txid, o.seq)
          ORDER BY m.up_to_txid, m.up_to_seq LIMIT 1
        )) AS published_at
      FROM ${t.outbox} o WHERE o.correlation_id = $1 ORDER BY o.seq`,
    values: [correlationId],
  };
}
