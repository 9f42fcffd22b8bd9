import { CoreErrors, HeraldError, unstorableTextReason, type InboxEntry, type InboxStore, type SqlTx } from '@herald/core';
import type { Db } from '../db.js';
import { isStorableText } from '../storedText.js';
import { coalesceInTx, executeInTx, queryInTx } from '../txStatements.js';
import { findInboxHandled } from './findInboxHandled.js';
import { markInboxHandled, markInboxHandledMany, readFresh } from './markInboxHandled.js';

/**
 * The inbox on PostgreSQL. `markHandled` is `INSERT ... ON CONFLICT DO NOTHING` inside the caller's
 * transaction (marks made together in one transaction share one statement): when two deliveries of one event race, the second waits on the first's uncommitted
 * row and then finds it (returns false), so an effect commits once per group and event id.
 * An event id no `text` column holds exactly is refused with `value-rejected` before anything is
 * written (see {@link checkedEntry}); such an id has no mark to find.
 */
export function pgInboxStore(db: Db): InboxStore<SqlTx> {
  return {
    async markHandled(tx, entry) {
      checkedEntry(entry);
      // handlers batched into one transaction mark at the same moment: one insert for all of them
      const fresh = coalesceInTx(tx, 'inbox', 'mark inbox', entry, (entries) => markInboxHandledMany(db.t, entries), readFresh);
      return fresh ?? (await executeInTx(tx, 'mark inbox', markInboxHandled(db.t, entry))) === 1;
    },
    async markHandledMany(tx, entries) {
      if (entries.length === 0) return new Set<string>();
      entries.forEach(checkedEntry);
      const result = await queryInTx(tx, 'mark inbox', markInboxHandledMany(db.t, entries));
      const fresh = readFresh(result, entries);
      return new Set(entries.filter((_, i) => fresh[i]).map((e) => e.eventId));
    },
    async findHandled(eventIds) {
      const storable = eventIds.filter(isStorableText);
      if (storable.length === 0) return [];
      const { rows } = await db.run<{ event_id: string; group_name: string; handled_at: string | number }>('find inbox marks', findInboxHandled(db.t, storable));
      return rows.map((r) => ({ group: r.group_name, eventId: r.event_id, handledAt: Number(r.handled_at) }));
    },
  };
}

/**
 * Refuses to mark an event id a `text` column cannot hold exactly, with a final `value-rejected`
 * naming it: PostgreSQL refuses U+0000, and node-postgres sends a lone surrogate as U+FFFD, so the
 * mark would be another id's, and an event whose id differs only there would be dropped as its
 * duplicate. The core's decoder refuses such ids as malformed; this holds for any other way in.
 */
function checkedEntry(entry: InboxEntry): void {
  const reason = unstorableTextReason(entry.eventId);
  if (reason === undefined) return;
  const shown = JSON.stringify(entry.eventId.length > 100 ? `${entry.eventId.slice(0, 100)}...` : entry.eventId);
  throw new HeraldError(CoreErrors.valueRejected, `pgStores: mark inbox: event id ${shown} ${reason}: PostgreSQL cannot keep it as it is`, {
    details: { group: entry.group, eventId: entry.eventId },
  });
}
