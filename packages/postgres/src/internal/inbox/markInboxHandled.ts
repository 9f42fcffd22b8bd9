import type { InboxEntry } from '@herald/core';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Inserts the mark unless it is there; one row changed means "first time". */
export function markInboxHandled(t: Tables, entry: InboxEntry): Statement {
  return {
    name: `${t.statementPrefix}mark_inbox`,
    text: `INSERT INTO ${t.inbox} (event_id, group_name, handled_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    values: [entry.eventId, entry.group, entry.handledAt],
  };
}
