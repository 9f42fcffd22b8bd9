import type { DeadLetterPageRequest } from '@herald/core';
import { deadLetterPageQuery } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { columnQuery, LETTER_COLUMNS } from './letterColumns.js';

/**
 * One page of the letters a request matches, in `seq` order (the order they were added) after the
 * cursor's position, one row past the page size so `toDeadLetterPage` can tell whether another page
 * follows. The WHERE clause and the cursor come from `@herald/sql`, which refuses bad cursors,
 * limits and query fields with `invalid-options` before anything is sent, with the conditions
 * `columnQuery` adds (a key matches exactly); rows are read with `LETTER_COLUMNS`, for `exactRow`.
 * Unnamed: the text depends on which fields the request has.
 */
export function pageDeadLetters(t: Tables, request: DeadLetterPageRequest): { statement: Statement; limit: number } {
  const columns = columnQuery(request);
  const { where: queried, limit } = deadLetterPageQuery(columns.query);
  const where = columns.narrow(queried);
  return {
    statement: {
      text: `SELECT seq, ${LETTER_COLUMNS} FROM ${t.deadLetters} ${where.sql} ORDER BY seq LIMIT $${where.params.length + 1}`,
      values: [...where.params, limit + 1],
    },
    limit,
  };
}
