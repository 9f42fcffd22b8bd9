import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Deletes this relay's claims on the keys of these records, so any relay may claim them again. */
export function releaseOutboxClaim(t: Tables, relayId: string, ids: readonly string[]): Statement {
  return {
    name: `${t.statementPrefix}release_outbox`,
    text: `
      DELETE FROM ${t.outboxClaims} c
      USING (SELECT DISTINCT topic, key FROM ${t.outbox} WHERE id = ANY($2::text[])) k
      WHERE c.topic = k.topic AND c.key = k.key AND c.relay_id = $1`,
    values: [relayId, [...ids]],
  };
}
