import type { Statement } from '../db.js';
import { NOW_MS, type Tables } from '../tables.js';

/**
 * Stamps `published_at` (database clock; an earlier stamp is kept) on the records and deletes this
 * relay's claims on their keys. Records of a key whose claim passed to another relay are still
 * marked (they were published), but that relay's claim stays. The claim delete reads the update's
 * output, so each key's rows are locked before its claim row: the lock order claims also follow.
 */
export function markOutboxPublished(t: Tables, relayId: string, ids: readonly string[]): Statement {
  return {
    name: `${t.statementPrefix}mark_outbox`,
    text: `
      WITH marked AS (
        UPDATE ${t.outbox} SET published_at = COALESCE(published_at, ${NOW_MS})
        WHERE id = ANY($2::text[])
        RETURNING topic, key
      )
      DELETE FROM ${t.outboxClaims} c USING (SELECT DISTINCT topic, key FROM marked) m
      WHERE c.topic = m.topic AND c.key = m.key AND c.relay_id = $1`,
    values: [relayId, [...ids]],
  };
}
