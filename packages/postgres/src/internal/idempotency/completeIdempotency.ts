import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Stores the response of the key's request (JSON text; `undefined` is stored as SQL NULL). */
export function completeIdempotency(t: Tables, options: { key: string; response: unknown }): Statement {
  return {
    name: `${t.statementPrefix}complete_idempotency`,
    text: `UPDATE ${t.idempotency} SET state = 'completed', response = $2 WHERE key = $1`,
    values: [options.key, options.response === undefined ? null : JSON.stringify(options.response)],
  };
}
