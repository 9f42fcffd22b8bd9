import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Stores the response of the key's request (JSON text; `undefined` is stored as SQL NULL), only
 * while the record is in flight and held by `owner`: an attempt whose key was taken over, completed
 * or abandoned changes no row. The row lock it takes holds off a takeover until the transaction
 * settles.
 */
export function completeIdempotency(t: Tables, options: { key: string; owner: string; response: unknown }): Statement {
  return {
    name: `${t.statementPrefix}complete_idempotency_owned`,
    text: `UPDATE ${t.idempotency} SET state = 'completed', response = $2 WHERE key = $1 AND state = 'in-flight' AND owner = $3`,
    values: [options.key, options.response === undefined ? null : JSON.stringify(options.response), options.owner],
  };
}
