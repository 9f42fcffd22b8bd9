import type { InboxStore, SqlTx } from '@herald/core';
import type { Db } from '../db.js';
import { executeInTx } from '../transaction.js';
import { findInboxHandled } from './findInboxHandled.js';
import { markInboxHandled } from './markInboxHandled.js';

/**
 * The inbox on PostgreSQL. `markHandled` is `INSERT ... ON CONFLICT DO NOTHING` inside the caller's
 * transaction: when two deliveries of one event race, the second waits on the first's uncommitted
 * row and then finds it (returns false), so an effect commits once per group and event id.
 */
export function pgInboxStore(db: Db): InboxStore<SqlTx> {
  return {
    async markHandled(tx, entry) {
      return (await executeInTx(tx, 'mark inbox', markInboxHandled(db.t, entry))) === 1;
    },
    async findHandled(eventIds) {
      if (eventIds.length === 0) return [];
      const { rows } = await db.run<{ event_id: string; group_name: string; handled_at: string | number }>('find inbox marks', findInboxHandled(db.t, eventIds));
      return rows.map((r) => ({ group: r.group_name, eventId: r.event_id, handledAt: Number(r.handled_at) }));
    },
  };
}
