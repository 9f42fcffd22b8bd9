import type { InboxEntry, InboxStore, SqlTx } from '@herald/core';
import type { StoreDeps } from './outbox.js';

/**
 * The inbox on SQLite: one row per (event id, group). `markHandled` is an insert that ignores a
 * conflict, so two transactions racing on the same event serialise on the write lock and exactly
 * one of them sees `true`.
 */
export function createInboxStore(deps: StoreDeps): InboxStore<SqlTx> {
  const { writer, reader, scopeOf } = deps;
  const mark = writer.prepare('INSERT INTO herald_inbox (event_id, group_name, handled_at) VALUES (?, ?, ?) ON CONFLICT (event_id, group_name) DO NOTHING');
  const find = reader.prepare<[string], { event_id: string; group_name: string; handled_at: number }>(
    'SELECT event_id, group_name, handled_at FROM herald_inbox WHERE event_id = ? ORDER BY seq',
  );
  return {
    async markHandled(tx, entry) {
      return scopeOf(tx).run(mark, [entry.eventId, entry.group, entry.handledAt]) === 1;
    },
    async markHandledMany(tx, entries) {
      // one prepared insert per mark, all in the caller's scope: in-process calls, no round trips
      const scope = scopeOf(tx);
      const fresh = new Set<string>();
      for (const entry of entries) if (scope.run(mark, [entry.eventId, entry.group, entry.handledAt]) === 1) fresh.add(entry.eventId);
      return fresh;
    },
    async findHandled(eventIds) {
      const found: InboxEntry[] = [];
      for (const eventId of new Set(eventIds)) {
        for (const row of find.all(eventId)) found.push({ group: row.group_name, eventId: row.event_id, handledAt: row.handled_at });
      }
      return found;
    },
  };
}
