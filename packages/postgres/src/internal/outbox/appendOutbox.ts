import type { OutboxRecord } from '@herald/core';
import { OUTBOX_RECORD_COLUMNS, outboxValues } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Inserts records in one statement (one array per column, unnested in order), so the `seq` bigserial
 * follows the order of `records`. A record whose event id is already in the outbox is skipped: a
 * publish with an explicit id is idempotent. Values come from `@herald/sql`'s mapping; `headers` is
 * NOT NULL here, so no headers (NULL there) are stored as `'{}'`.
 */
export function appendOutbox(t: Tables, records: readonly OutboxRecord[]): Statement {
  // one event per transaction is the common case: a plain VALUES insert plans and runs cheaper
  if (records.length === 1) {
    return {
      name: `${t.statementPrefix}append_outbox_one`,
      text: `INSERT INTO ${t.outbox} (${OUTBOX_RECORD_COLUMNS})
        VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, '{}'), $8)
        ON CONFLICT (id) DO NOTHING`,
      values: outboxValues(records[0]!),
    };
  }
  const rows = records.map(outboxValues);
  return {
    name: `${t.statementPrefix}append_outbox`,
    text: `INSERT INTO ${t.outbox} (${OUTBOX_RECORD_COLUMNS})
      SELECT id, topic, key, type, correlation_id, value, COALESCE(headers, '{}'), created_at
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
        WITH ORDINALITY AS r(${OUTBOX_RECORD_COLUMNS}, ord)
      ORDER BY ord
      ON CONFLICT (id) DO NOTHING`,
    // one array per column, in the column order of the values
    values: rows[0]!.map((_, column) => rows.map((row) => row[column])),
  };
}
