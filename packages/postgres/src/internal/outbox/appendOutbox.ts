import type { OutboxRecord } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Inserts records in one statement (one array per column, unnested in order), so the `seq` bigserial
 * follows the order of `records`. A record whose event id is already in the outbox is skipped: a
 * publish with an explicit id is idempotent.
 */
export function appendOutbox(t: Tables, records: readonly OutboxRecord[]): Statement {
  // one event per transaction is the common case: a plain VALUES insert plans and runs cheaper
  if (records.length === 1) {
    const r = records[0]!;
    return {
      name: `${t.statementPrefix}append_outbox_one`,
      text: `INSERT INTO ${t.outbox} (id, topic, key, type, correlation_id, value, headers, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (id) DO NOTHING`,
      values: [r.id, r.topic, r.key, r.type, r.correlationId, r.value, JSON.stringify(r.headers), r.createdAt],
    };
  }
  return {
    name: `${t.statementPrefix}append_outbox`,
    text: `INSERT INTO ${t.outbox} (id, topic, key, type, correlation_id, value, headers, created_at)
      SELECT id, topic, key, type, correlation_id, value, headers, created_at
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
        WITH ORDINALITY AS r(id, topic, key, type, correlation_id, value, headers, created_at, ord)
      ORDER BY ord
      ON CONFLICT (id) DO NOTHING`,
    values: [
      records.map((r) => r.id),
      records.map((r) => r.topic),
      records.map((r) => r.key),
      records.map((r) => r.type),
      records.map((r) => r.correlationId),
      records.map((r) => r.value),
      records.map((r) => JSON.stringify(r.headers)),
      records.map((r) => r.createdAt),
    ],
  };
}
