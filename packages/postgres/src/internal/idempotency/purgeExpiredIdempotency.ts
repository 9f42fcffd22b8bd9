import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Deletes records whose expiry is at or before `now` (index `idempotency_keys_expiry`). */
export function purgeExpiredIdempotency(t: Tables, now: number): Statement {
  return {
    text: `DELETE FROM ${t.idempotency} WHERE expires_at <= $1::bigint`,
    values: [now],
  };
}
