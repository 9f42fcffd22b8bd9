import type { DeadLetterFilter } from '@herald/core';
import { DEAD_LETTER_COLUMNS } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Letters matching every given field of the filter, in the order they were first added; at most
 * `limit` of them, cut to a whole number and none below 0, as on SQLite (PostgreSQL would refuse
 * 2.5 as a bigint, and a negative LIMIT).
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
  if (filter.key !== undefined) add((p) => `key = ${p}`, filter.key);
  if (filter.status !== undefined) add((p) => `status = ${p}`, filter.status);
  if (filter.ids !== undefined) add((p) => `id = ANY(${p}::text[])`, [...filter.ids]);
  let text = `SELECT ${DEAD_LETTER_COLUMNS} FROM ${t.deadLetters}`;
  if (where.length > 0) text += ` WHERE ${where.join(' AND ')}`;
  text += ' ORDER BY seq';
  if (filter.limit !== undefined) {
    values.push(Math.max(0, Math.floor(filter.limit)));
    text += ` LIMIT $${values.length}`;
  }
  return { text, values };
}
