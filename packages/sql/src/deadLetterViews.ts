import type { DeadLetterGroup, DeadLetterPage } from '@herald/core';
import { encodeDeadLetterCursor } from './deadLetterCursor.js';
import { toDeadLetter, type DeadLetterRow } from './deadLetterRows.js';
import { toNumber } from './integers.js';

/** A row of a paged read: the letter's columns and its insertion sequence. */
export interface DeadLetterPageRow extends DeadLetterRow {
  readonly seq: number | string;
}

/**
 * The page made of `rows`, read in `seq` order with `LIMIT limit + 1`: the first `limit` letters,
 * and a cursor after the last of them when the extra row shows more match.
 */
export function toDeadLetterPage(rows: readonly DeadLetterPageRow[], limit: number): DeadLetterPage {
  const shown = rows.length > limit ? rows.slice(0, limit) : rows;
  const next = rows.length > limit ? encodeDeadLetterCursor(shown[shown.length - 1]!.seq) : null;
  return { letters: shown.map(toDeadLetter), next };
}

/**
 * A row of a grouped read: the group's key, size and failure times, and the id and `error` column
 * of its sample letter.
 */
export interface DeadLetterGroupRow {
  readonly group_name: string;
  readonly handler: string;
  readonly fingerprint: string;
  readonly reason: string;
  readonly letters: number | string;
  readonly first_failure_at: number | string;
  readonly last_failure_at: number | string;
  readonly sample_id: string;
  readonly sample_error: string;
}

export function toDeadLetterGroup(row: DeadLetterGroupRow): DeadLetterGroup {
  return {
    fingerprint: row.fingerprint,
    reason: row.reason,
    group: row.group_name,
    handler: row.handler,
    count: toNumber(row.letters),
    firstFailureAt: toNumber(row.first_failure_at),
    lastFailureAt: toNumber(row.last_failure_at),
    sample: { id: row.sample_id, message: errorMessage(row.sample_error) },
  };
}

/** The message of a stored `error` column (empty when its JSON holds none). */
function errorMessage(errorJson: string): string {
  const parsed = JSON.parse(errorJson) as { message?: unknown };
  return typeof parsed.message === 'string' ? parsed.message : '';
}
