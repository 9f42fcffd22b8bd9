import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** Marks of any of these event ids, across groups (primary key lookups). */
export function findInboxHandled(t: Tables, eventIds: readonly string[]): Statement {
  return {
    text: `SELECT event_id, group_name, handled_at FROM ${t.inbox} WHERE event_id = ANY($1::text[]) ORDER BY handled_at, event_id, group_name`,
    values: [[...eventIds]],
  };
}
