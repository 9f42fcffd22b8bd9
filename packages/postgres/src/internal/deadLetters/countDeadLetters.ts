import type { DeadLetterQuery } from '@herald/core';
import { deadLetterWhere } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { columnQuery } from './letterColumns.js';

/** How many letters a query matches (`n`, a bigint). The WHERE clause comes from `@herald/sql`, narrowed by `columnQuery`. */
export function countDeadLetters(t: Tables, query: DeadLetterQuery): Statement {
  const columns = columnQuery(query);
  const where = columns.narrow(deadLetterWhere(columns.query));
  return { text: `SELECT count(*) AS n FROM ${t.deadLetters} ${where.sql}`, values: [...where.params] };
}
