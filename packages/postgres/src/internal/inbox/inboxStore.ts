import type { InboxStore, SqlTx } from '@herald/core';
import type { Db } from '../db.js';
import { coalesceInTx, executeInTx, queryInTx } from '../transaction.js';
import { findInboxHandled } from './findInboxHandled.js';
import { markInboxHandled, markInboxHandledMany, readFresh } from './markInboxHandled.js';

/**
 * The inbox on PostgreSQL. `markHandled` is `INSERT ... ON CONFLICT DO NOTHING` inside the caller's
 * transaction (marks made together in one transaction share one statement): when two deliveries of one event race, the second waits on the first's uncommitted
 * row and then finds it (returns false), so an effect commits once per group and event id.
 */
export function pgInboxStore(db: Db): InboxStore<SqlTx> {
  return {
    async markHandled(tx, entry) {
      // handlers batched into one transaction mark at the same moment: one insert for all of them
      const fresh = coalesceInTx(tx, 'inbox', 'mark inbox', entry, (entries) => markInboxHandledMany(db.t, entries), readFresh);
      return fresh ?? (await executeInTx(tx, 'mark inbox', markInboxHandled(db.t, entry))) === 1;
    },
    async markHandledMany(tx, entries) {
      if (entries.length === 0) return new Set<string>();
      const result = await queryInTx(tx, 'mark inbox', markInboxHandledMany(db.t, entries));
      const fresh = readFresh(result, entries);
      return new Set(entries.filter((_, i) => fresh[i]).map((e) => e.eventId));
    },
    async findHandled(eventIds) {
      if (eventIds.length === 0) return [];
      const { rows } = await db.run<{ event_id: string; group_name: string; handled_at: string | number }>('find inbox marks', findInboxHandled(db.t, eventIds));
      return rows.map((r) => ({ group: r.group_name, eventId: r.event_id, handledAt: Number(r.handled_at) }));
    },
  };
}
