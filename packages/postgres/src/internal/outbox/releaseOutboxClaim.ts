import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/**
 * Ends this relay's lease on the slots of these records, so any relay may take them at once. The
 * slot rows are locked in slot order first, as claims lock them, so the two never deadlock.
 */
export function releaseOutboxClaim(t: Tables, relayId: string, ids: readonly string[]): Statement {
  return {
    name: `${t.statementPrefix}release_outbox`,
    text: `UPDATE ${t.outboxSlots} SET relay_id = NULL, lease_expires_at = NULL
      WHERE slot IN (
        SELECT slot FROM ${t.outboxSlots}
        WHERE relay_id = $1 AND slot IN (SELECT slot FROM ${t.outbox} WHERE id = ANY($2::text[]))
        ORDER BY slot FOR UPDATE
      )`,
    values: [relayId, [...ids]],
  };
}
