import type { OutboxRecord } from '@herald/core';
import { OUTBOX_RECORD_COLUMNS, OUTBOX_RECORD_WIDTH, outboxValues, writeOutboxValues } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { slotOf } from './slots.js';

/*
 * Where an appended row goes in its slot. A row's position is (txid, seq); ordered by the
 * appending transaction's own id (taken at its first write: a handler's inbox mark, long before
 * the append just before COMMIT), the events of a transaction that committed before this one began
 * its append, and which this one may have read or waited for (a row lock on the aggregate both
 * change), would be relayed after this one's: a key's events out of the order of the changes they
 * report. So a row's txid is its transaction's id or, when that is older, the newest txid its slot
 * has (its newest pending row, through the relay's index `outbox_slot`), and `seq` is drawn after
 * that read: under READ COMMITTED the insert sees every append committed before it began, and goes
 * after them. Appends running at the same time are not ordered by commit (neither saw the other).
 * Nothing commits below a watermark any more than before: a row's txid is at least its
 * transaction's own, which no claim passes while the transaction runs (the `pg_snapshot_xmin`
 * bound); for the same reason a slot's watermark is below every new row's txid, so a slot whose
 * rows were all swept needs no look at its watermark. Rows a previous release appends (the
 * column's default, its own txid) are ordered as they always were.
 */

/**
 * The txid of a row appended to `slot` (an SQL expression) now: the transaction's own id, or the
 * newest txid of the slot's pending rows when that is newer.
 */
function positionIn(t: Tables, slot: string): string {
  return `greatest(pg_current_xact_id(),
      (SELECT o.txid FROM ${t.outbox} o WHERE o.slot = ${slot} AND o.published_at IS NULL ORDER BY o.txid DESC, o.seq DESC LIMIT 1))`;
}

/**
 * Inserts records in one statement (one JSON array per column, read back in order), so the `seq` bigserial
 * follows the order of `records`, each slot's rows after those it has (see above). A record whose
 * event id is already in the outbox is skipped: a publish with an explicit id is idempotent. Values
 * come from `@herald/sql`'s mapping; `headers` is NOT NULL here, so no headers (NULL there) are
 * stored as `'{}'`.
 */
export function appendOutbox(t: Tables, records: readonly OutboxRecord[]): Statement {
  // one event per transaction is the common case: a plain VALUES insert plans and runs cheaper
  if (records.length === 1) {
    return {
      name: `${t.statementPrefix}append_outbox_one`,
      text: `INSERT INTO ${t.outbox} (${OUTBOX_RECORD_COLUMNS}, txid)
        VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, '{}'), $8, ${positionIn(t, slotOf('$3::text'))})
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
    text: insertRows(t, `SELECT id, topic, key, type, correlation_id, value, headers, created_at::bigint AS created_at, ord
      FROM ROWS FROM (${columns.map((_, column) => `json_array_elements_text($${column + 1}::json)`).join(', ')})
        WITH ORDINALITY AS r(${OUTBOX_RECORD_COLUMNS}, ord)`),
    values: columns.map((values) => JSON.stringify(values)),
  };
}

/** The insert of the rows `source` selects (the record columns and `ord`), in `ord` order, each slot's after its head. */
function insertRows(t: Tables, source: string): string {
  return `WITH r AS (${source}),
    heads AS (SELECT h.slot, ${positionIn(t, 'h.slot')} AS txid FROM (SELECT DISTINCT ${slotOf('key')} AS slot FROM r) h)
    INSERT INTO ${t.outbox} (${OUTBOX_RECORD_COLUMNS}, txid)
    SELECT r.id, r.topic, r.key, r.type, r.correlation_id, r.value, COALESCE(r.headers, '{}'), r.created_at, heads.txid
    FROM r JOIN heads ON heads.slot = ${slotOf('r.key')}
    ORDER BY r.ord
    ON CONFLICT (id) DO NOTHING`;
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
    text: insertRows(t, `SELECT id, topic, key, type, correlation_id, value, headers, created_at, ord
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
        WITH ORDINALITY AS r(${OUTBOX_RECORD_COLUMNS}, ord)`),
    // one array per column, in the column order of the values
    values: rows[0]!.map((_, column) => rows.map((row) => row[column])),
  };
}
