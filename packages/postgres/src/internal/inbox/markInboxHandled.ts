import type { InboxEntry } from '@herald/core';
import type { QueryResult } from 'pg';
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

/**
 * Inserts several marks in one statement, in event id order (two transactions marking overlapping
 * events lock them in the same order, so they wait rather than deadlock), and returns the marks it
 * inserted. One entry alone uses {@link markInboxHandled}.
 */
export function markInboxHandledMany(t: Tables, entries: readonly InboxEntry[]): Statement {
  if (entries.length === 1) return markInboxHandled(t, entries[0]!);
  const sorted = [...entries].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  return {
    name: `${t.statementPrefix}mark_inbox_many`,
    text: `INSERT INTO ${t.inbox} (event_id, group_name, handled_at)
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
      ON CONFLICT DO NOTHING
      RETURNING event_id, group_name`,
    values: [sorted.map((e) => e.eventId), sorted.map((e) => e.group), sorted.map((e) => e.handledAt)],
  };
}

/**
 * Whether each entry's mark was new, in the order of `entries`, from the result of
 * {@link markInboxHandledMany}. An entry given twice is new at most once (its first occurrence).
 */
export function readFresh(result: QueryResult, entries: readonly InboxEntry[]): boolean[] {
  if (entries.length === 1) return [result.rowCount === 1];
  const inserted = new Set((result.rows as { event_id: string; group_name: string }[]).map((r) => `${r.group_name}\u0000${r.event_id}`));
  return entries.map((e) => inserted.delete(`${e.group}\u0000${e.eventId}`));
}
