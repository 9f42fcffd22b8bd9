import type { OutboxRecord } from '@herald/core';
import { OUTBOX_RECORD_COLUMNS, OUTBOX_RECORD_WIDTH, outboxValues, writeOutboxValues } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Inserts records in one statement (one JSON array per column, read back in order), so the `seq` bigserial
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
  // one JSON array per column, not a text[] literal: node-postgres escapes every element of an
  // array parameter in JavaScript (two regular expressions over each ~500-character value), where
  // JSON.stringify escapes natively; PostgreSQL reads either about as fast
  const columns: unknown[][] = Array.from({ length: OUTBOX_RECORD_WIDTH }, () => new Array<unknown>(records.length));
  const row = new Array<unknown>(OUTBOX_RECORD_WIDTH);
  for (let i = 0; i < records.length; i++) {
    writeOutboxValues(records[i]!, row, 0);
    for (let column = 0; column < OUTBOX_RECORD_WIDTH; column++) {
      const value = row[column];
      if (typeof value === 'string' && !jsonSafe(value)) return appendAsArrays(t, records);
      columns[column]![i] = value;
    }
  }
  return {
    name: `${t.statementPrefix}append_outbox_json`,
    text: `INSERT INTO ${t.outbox} (${OUTBOX_RECORD_COLUMNS})
      SELECT id, topic, key, type, correlation_id, value, COALESCE(headers, '{}'), created_at::bigint
      FROM ROWS FROM (${columns.map((_, column) => `json_array_elements_text($${column + 1}::json)`).join(', ')})
        WITH ORDINALITY AS r(${OUTBOX_RECORD_COLUMNS}, ord)
      ORDER BY ord
      ON CONFLICT (id) DO NOTHING`,
    values: columns.map((values) => JSON.stringify(values)),
  };
}

/**
 * Whether PostgreSQL's json reads `text` back as it was: no NUL and no UTF-16 surrogate. json
 * refuses a NUL escape and a lone surrogate where a text[] parameter refused the one and replaced
 * the other, so a call with either (and, to stay simple, with a paired surrogate: an emoji) goes
 * as text[] arrays, as it always did. Values and headers are JSON text, escaped already; on a
 * one-byte string (most text) the check costs ~30 ns.
 */
function jsonSafe(text: string): boolean {
  return !SURROGATE.test(text) && !text.includes('\u0000');
}
const SURROGATE = /[\ud800-\udfff]/;

/** The same insert with one text[] (or bigint[]) parameter per column, unnested in order. */
function appendAsArrays(t: Tables, records: readonly OutboxRecord[]): Statement {
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
