import type { DeadLetterFilter } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { keyMatches, keyParams, LETTER_COLUMNS, storableIds } from './letterColumns.js';

/**
 * Letters matching every given field of the filter, in the order they were first added; at most
 * `limit` of them, cut to a whole number and none below 0, as on SQLite (PostgreSQL would refuse
 * 2.5 as a bigint, and a negative LIMIT). A key matches exactly, whatever it holds (see
 * `keyMatches`), a group's letters of one key found through the index `dead_letters_key` (the
 * consumer's park-key path lists them for every delivery of a held key); rows are read with
 * `LETTER_COLUMNS`, for `exactRow`.
 */
export function listDeadLetters(t: Tables, filter: DeadLetterFilter = {}): Statement {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (condition: (param: string) => string, value: unknown) => {
    values.push(value);
    where.push(condition(`$${values.length}`));
  };
  if (filter.group !== undefined) add((p) => `group_name = ${p}`, filter.group);
  if (filter.handler !== undefined) add((p) => `handler = ${p}`, filter.handler);
  if (filter.key !== undefined) {
    const [text, bytes] = keyParams(filter.key);
    values.push(text, bytes);
    // the hash first: it is what the index dead_letters_key (migration 18) finds a key's letters by
    where.push(`hashtextextended(key, 0) = hashtextextended($${values.length - 1}, 0)`, keyMatches(`$${values.length - 1}`, `$${values.length}`));
  }
  if (filter.status !== undefined) add((p) => `status = ${p}`, filter.status);
  if (filter.ids !== undefined) add((p) => `id = ANY(${p}::text[])`, storableIds(filter.ids));
  let text = `SELECT ${LETTER_COLUMNS} FROM ${t.deadLetters}`;
  if (where.length > 0) text += ` WHERE ${where.join(' AND ')}`;
  text += ' ORDER BY seq';
  if (filter.limit !== undefined) {
    values.push(Math.max(0, Math.floor(filter.limit)));
    text += ` LIMIT $${values.length}`;
  }
  return { text, values };
}
