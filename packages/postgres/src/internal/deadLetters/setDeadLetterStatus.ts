import type { DeadLetterStatus } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Sets the status of these letters (unknown ids are ignored). */
export function setDeadLetterStatus(t: Tables, ids: readonly string[], status: DeadLetterStatus): Statement {
  return {
    text: `UPDATE ${t.deadLetters} SET status = $2 WHERE id = ANY($1::text[])`,
    values: [[...ids], status],
  };
}
