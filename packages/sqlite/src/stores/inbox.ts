import type { InboxEntry, InboxStore, SqlTx } from '@herald/core';
import type Database from 'better-sqlite3';
import { storeReads } from '../internal/storeErrors.js';
import type { StoreDeps } from './outbox.js';
import { inStatements, multiRowStatements } from './multiRow.js';

/**
 * The inbox on SQLite: one row per (event id, group). `markHandled` is an insert that ignores a
 * conflict, so two transactions racing on the same event serialise on the write lock and exactly
 * one of them sees `true`. `findHandled` reads committed marks on the read connection; SQLite's
 * failures there are the stores' errors naming it and the file.
 */
export function createInboxStore(deps: StoreDeps): InboxStore<SqlTx> {
  const { writer, reader, scopeOf } = deps;
  const mark = writer.prepare('INSERT INTO herald_inbox (event_id, group_name, handled_at) VALUES (?, ?, ?) ON CONFLICT (event_id, group_name) DO NOTHING');
  // returns the event ids it inserted: a mark that was already there is a conflict, and not returned
  const markMany = multiRowStatements<string>(
    writer,
    (values) => `INSERT INTO herald_inbox (event_id, group_name, handled_at) VALUES ${values} ON CONFLICT (event_id, group_name) DO NOTHING RETURNING event_id`,
    '(?, ?, ?)',
    (stmt) => stmt.pluck() as Database.Statement<unknown[], string>,
  );
  const find = storeReads.guard(
    reader.prepare<[string], { event_id: string; group_name: string; handled_at: number }>('SELECT event_id, group_name, handled_at FROM herald_inbox WHERE event_id = ? ORDER BY seq'),
    'inbox: findHandled',
  );
  return {
    async markHandled(tx, entry) {
      return (await scopeOf(tx)).run(mark, [entry.eventId, entry.group, entry.handledAt]) === 1;
    },
    async markHandledMany(tx, entries) {
      // up to ROWS_PER_STATEMENT marks per statement, all in the caller's scope
      const scope = await scopeOf(tx);
      const fresh = new Set<string>();
      inStatements(
        entries,
        3,
        (entry, args, at) => {
          args[at] = entry.eventId;
          args[at + 1] = entry.group;
          args[at + 2] = entry.handledAt;
        },
        (rows, args) => {
          for (const eventId of scope.all(markMany(rows), args)) fresh.add(eventId);
        },
      );
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
