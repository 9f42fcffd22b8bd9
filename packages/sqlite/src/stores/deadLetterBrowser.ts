import type { DeadLetterBrowser } from '@herald/core';
import {
  DEAD_LETTER_COLUMNS,
  deadLetterPageQuery,
  deadLetterWhere,
  toDeadLetterGroup,
  toDeadLetterPage,
  type DeadLetterGroupRow,
  type DeadLetterPageRow,
} from '@herald/sql';
import type { StoreDeps } from './outbox.js';
import { createReadStatements } from './readStatements.js';

/** Groups by (group, handler, fingerprint, reason); the sample is the latest letter, of equals the last added. */
const GROUPS = (where: string) => `
  SELECT group_name, handler, fingerprint, reason, letters, first_at AS first_failure_at, last_at AS last_failure_at, sample_id, sample_error
  FROM (
    SELECT group_name, handler, fingerprint, reason, id AS sample_id, error AS sample_error,
      count(*) OVER failure AS letters,
      min(first_failure_at) OVER failure AS first_at,
      max(last_failure_at) OVER failure AS last_at,
      row_number() OVER (failure ORDER BY last_failure_at DESC, seq DESC) AS latest
    FROM herald_dead_letters ${where}
    WINDOW failure AS (PARTITION BY group_name, handler, fingerprint, reason)
  )
  WHERE latest = 1
  ORDER BY letters DESC, last_at DESC, group_name, handler, fingerprint, reason`;

/**
 * The dead letter read side on SQLite: one statement per purpose, built from the shared query
 * pieces of `@herald/sql` (its `$n` parameters become `?`). Reads use the read connection (what
 * is committed); pages are read in `seq` order, one row past the limit to know whether another
 * page follows; `discard` is one write transaction that changes only dead and parked letters and
 * stamps their resolution time, so retention purges them later. SQLite's failures of the reads are
 * the stores' errors naming the method and the file.
 */
export function createDeadLetterBrowser(deps: StoreDeps): DeadLetterBrowser {
  const { writer, reader, runner, clock } = deps;
  const reads = createReadStatements(reader);
  const discard = writer.prepare(
    "UPDATE herald_dead_letters SET status = 'discarded', resolved_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('dead', 'parked')",
  );

  return {
    async page(request = {}) {
      const { where, limit } = deadLetterPageQuery(request);
      const sql = `SELECT seq, ${DEAD_LETTER_COLUMNS} FROM herald_dead_letters ${where.sql} ORDER BY seq LIMIT $${where.params.length + 1}`;
      return toDeadLetterPage(reads.all<DeadLetterPageRow>({ sql, params: [...where.params, limit + 1] }, 'dead letters: page'), limit);
    },
    async count(query = {}) {
      const where = deadLetterWhere(query);
      return reads.get<{ n: number }>({ sql: `SELECT count(*) AS n FROM herald_dead_letters ${where.sql}`, params: where.params }, 'dead letters: count')!.n;
    },
    async groups(query = {}) {
      const where = deadLetterWhere(query);
      return reads.all<DeadLetterGroupRow>({ sql: GROUPS(where.sql), params: where.params }, 'dead letters: groups').map(toDeadLetterGroup);
    },
    async discard(ids) {
      if (ids.length === 0) return 0;
      return runner.run((scope) => scope.run(discard, [clock.now(), JSON.stringify(ids)]));
    },
  };
}
