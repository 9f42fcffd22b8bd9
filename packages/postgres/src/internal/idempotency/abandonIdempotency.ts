import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Forgets the in-flight key `owner` holds. A completed key is kept (its response must still be
 * replayed), and so is a key another attempt took over (it is that attempt's to finish).
 */
export function abandonIdempotency(t: Tables, options: { key: string; owner: string }): Statement {
  return {
    text: `DELETE FROM ${t.idempotency} WHERE key = $1 AND state = 'in-flight' AND owner = $2`,
    values: [options.key, options.owner],
  };
}
