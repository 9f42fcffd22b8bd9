import type { DeadLetter, DeadLetterQuery } from '@herald/core';
import { DEAD_LETTER_COLUMNS, deadLetterRow, type DeadLetterRow, type DeadLetterWrite, type SqlWhere } from '@herald/sql';
import { fromStoredText, isStorableText, toStoredText } from '../storedText.js';

/**
 * Where PostgreSQL's letters differ from `@herald/sql`'s rows: a record's key and raw value come
 * from any producer, and may hold what a `text` column cannot (U+0000, a lone surrogate). Each is
 * written as a display form in its column and exactly in `key_bytes` / `envelope_bytes` (see
 * `StoredText`), and read back exactly; every other column is as `@herald/sql` maps it.
 */
export interface ColumnBytes {
  readonly key_bytes: Buffer | null;
  readonly envelope_bytes: Buffer | null;
}

/** The columns a read selects: `@herald/sql`'s, then the exact bytes of a key or value their text column could not hold. */
export const LETTER_COLUMNS = `${DEAD_LETTER_COLUMNS}, key_bytes, envelope_bytes`;

/** What an add writes. */
export type LetterWrite = DeadLetterWrite & ColumnBytes;

/**
 * The row `letter` is stored as (`now`: the resolution time of a resolved letter). An envelope id
 * or type that no text column holds exactly is one the core's decoder refuses as malformed: it is
 * stored as NULL, as the decoder reports such an envelope, and stays readable in the envelope,
 * which is kept exactly.
 */
export function letterRow(letter: DeadLetter, now: number): LetterWrite {
  const row = deadLetterRow(letter, now);
  const key = toStoredText(row.key);
  const envelope = toStoredText(row.envelope);
  return {
    ...row,
    event_id: storableOrNull(row.event_id),
    event_type: storableOrNull(row.event_type),
    key: key.text,
    key_bytes: key.bytes,
    envelope: envelope.text,
    envelope_bytes: envelope.bytes,
  };
}

/** A row read with {@link LETTER_COLUMNS}, its key and envelope as the letter had them, ready for `@herald/sql`'s mapping. */
export function exactRow<R extends DeadLetterRow & ColumnBytes>(row: R): R {
  if (row.key_bytes === null && row.envelope_bytes === null) return row;
  return { ...row, key: fromStoredText(row.key, row.key_bytes), envelope: fromStoredText(row.envelope, row.envelope_bytes) };
}

/** `key` as the columns hold it: the text and bytes parameters of {@link keyMatches}. */
export function keyParams(key: string): [string, Buffer | null] {
  const stored = toStoredText(key);
  return [stored.text, stored.bytes];
}

/**
 * The condition a key matches by, its text column compared with `$text` and its bytes with
 * `$bytes` (see {@link keyParams}): the display form of `"a\0b"` matches only its own letters,
 * not a letter whose key is that display form.
 */
export function keyMatches(text: string, bytes: string): string {
  return `key = ${text} AND key_bytes IS NOT DISTINCT FROM ${bytes}::bytea`;
}

/** Query fields whose columns hold only text a column can keep exactly (an id or type that cannot be kept is NULL). */
const TEXT_FIELDS = ['group', 'handler', 'topic', 'eventType', 'reason', 'fingerprint'] as const;

/**
 * A query as the table's columns answer it, for `@herald/sql`'s WHERE clause, and the conditions
 * that clause needs on PostgreSQL: `key` compared as {@link keyMatches} does, and a value no
 * column can hold exactly in a field compared as text (a lone surrogate would reach the server as
 * U+FFFD, and match another value; a NUL would be refused) matching nothing. Fields of the wrong
 * type are left for `@herald/sql` to refuse.
 */
export function columnQuery<Q extends DeadLetterQuery>(query: Q): { query: Q; narrow(where: SqlWhere): SqlWhere } {
  const columns: { -readonly [F in keyof DeadLetterQuery]: DeadLetterQuery[F] } = { ...query };
  const conditions: ((param: (value: unknown) => string) => string)[] = [];
  if (typeof query.key === 'string') {
    const [text, bytes] = keyParams(query.key);
    columns.key = text;
    conditions.push((param) => `key_bytes IS NOT DISTINCT FROM ${param(bytes)}::bytea`);
  }
  for (const field of TEXT_FIELDS) {
    const value = query[field];
    if (typeof value !== 'string' || isStorableText(value)) continue;
    columns[field] = toStoredText(value).text;
    conditions.push(() => '1 = 0');
  }
  return {
    query: columns as Q,
    narrow(where) {
      if (conditions.length === 0) return where;
      const params = [...where.params];
      const param = (value: unknown) => `$${params.push(value)}`;
      const added = conditions.map((condition) => condition(param)).join(' AND ');
      return { sql: where.sql === '' ? `WHERE ${added}` : `${where.sql} AND ${added}`, params };
    },
  };
}

/** The ids a letter may have: an id no text column holds exactly is no letter's (and PostgreSQL would refuse or change it). */
export function storableIds(ids: readonly string[]): string[] {
  return ids.filter((id) => typeof id !== 'string' || isStorableText(id));
}

function storableOrNull(value: string | null): string | null {
  return value === null || isStorableText(value) ? value : null;
}
