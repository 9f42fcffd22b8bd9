import type { DeadLetterQuery } from '@herald/core';
import { deadLetterWhere } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { columnQuery } from './letterColumns.js';

/** Ties are ordered by bytes, as on SQLite and in memory, whatever the database's collation. */
const BY_KEY = ['group_name', 'handler', 'fingerprint', 'reason'].map((c) => `g.${c} COLLATE "C"`).join(', ');

/**
 * The letters a query matches, grouped by (group, handler, fingerprint, reason): their count, first
 * and last failure, and a sample, the latest letter of the group (latest last failure; of those, the
 * last added). The groups are aggregated over narrow columns, the sample found as the greatest
 * `[last_failure_at, seq]` pair, and only the samples' `id` and `error` read back, one primary key
 * lookup per group, so the statement never sorts the letters' wide columns. (`LIMIT 1` keeps the
 * lookup per group: as a plain join, the planner, which cannot estimate how few groups there are,
 * chose to read the whole table a second time.) Largest group first, then the one that failed most
 * recently, then by key. Rows are `DeadLetterGroupRow`s of `@herald/sql`; the WHERE clause is
 * narrowed by `columnQuery`.
 */
export function groupDeadLetters(t: Tables, query: DeadLetterQuery): Statement {
  const columns = columnQuery(query);
  const where = columns.narrow(deadLetterWhere(columns.query));
  return {
    text: `
      SELECT g.group_name, g.handler, g.fingerprint, g.reason, g.letters, g.first_failure_at, g.last_failure_at,
        s.id AS sample_id, s.error AS sample_error
      FROM (
        SELECT group_name, handler, fingerprint, reason, count(*) AS letters,
          min(first_failure_at) AS first_failure_at, max(last_failure_at) AS last_failure_at,
          (max(ARRAY[last_failure_at, seq]))[2] AS sample_seq
        FROM ${t.deadLetters} ${where.sql}
        GROUP BY group_name, handler, fingerprint, reason
      ) g
      CROSS JOIN LATERAL (SELECT id, error FROM ${t.deadLetters} WHERE seq = g.sample_seq LIMIT 1) s
      ORDER BY g.letters DESC, g.last_failure_at DESC, ${BY_KEY}`,
    values: [...where.params],
  };
}
