import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Forgets an in-flight key (a completed one is kept: its response must still be replayed). */
export function abandonIdempotency(t: Tables, key: string): Statement {
  return {
    text: `DELETE FROM ${t.idempotency} WHERE key = $1 AND state = 'in-flight'`,
    values: [key],
  };
}
