import { CoreErrors, HeraldError, type ClaimOptions, type OutboxBacklog, type OutboxRecord, type OutboxStore, type SqlTx } from '@herald/core';
import { toOutboxEntry, type OutboxRow } from '@herald/sql';
import type { Db } from '../db.js';
import { deferToCommit, executeInTx, noteAppended } from '../transaction.js';
import { appendOutbox } from './appendOutbox.js';
import { countOutboxBacklog, toTopicBacklog, type BacklogRow } from './countOutboxBacklog.js';
import { claimedRecords, claimWindows, pickFromWindow, scanOutboxWindow, takeClaims, type ClaimRow, type WindowRow } from './claimOutboxBatch.js';
import { findOutboxByCorrelation } from './findOutboxByCorrelation.js';
import { markOutboxPublished } from './markOutboxPublished.js';
import { releaseOutboxClaim } from './releaseOutboxClaim.js';

/**
 * The outbox on PostgreSQL, with its backlog (`OutboxBacklog`, read from committed rows only); see
 * claimOutboxBatch.ts for the claim algorithm, src/retention.ts for its sweep.
 */
export function pgOutboxStore(db: Db): OutboxStore<SqlTx> & OutboxBacklog {
  return {
    async append(tx, records: readonly OutboxRecord[]) {
      if (records.length === 0) return;
      // one multi-row insert just before COMMIT for everything the transaction appends (a batch of
      // application transactions sharing one appends once, not once per publish); seq follows the
      // order of the appends
      if (!deferToCommit(tx, 'outbox', 'append outbox', records, (all) => appendOutbox(db.t, all))) {
        await executeInTx(tx, 'append outbox', appendOutbox(db.t, records));
      }
      noteAppended(tx);
    },
    async claim(options: ClaimOptions) {
      if (!(Number.isInteger(options.limit) && options.limit > 0)) invalid(`claim limit must be a positive integer, got ${options.limit}`);
      if (!(options.leaseMs > 0)) invalid(`claim leaseMs must be positive, got ${options.leaseMs}`);
      if (!options.relayId) invalid('claim needs a relayId');
      for (const window of claimWindows(options.limit)) {
        const scanned = await db.run<WindowRow>('claim outbox (scan)', scanOutboxWindow(db.t, { relayId: options.relayId, window }));
        const picked = pickFromWindow(scanned.rows, options.limit);
        if (picked.heads.length > 0) {
          const { rows } = await db.run<ClaimRow>('claim outbox', takeClaims(db.t, { ...options, picked }));
          const records = claimedRecords(rows);
          if (records.length > 0) return records;
        }
        // look further only when a full window held nothing we could take
        if (picked.windowRows < window) return [];
      }
      return [];
    },
    async markPublished(relayId, ids) {
      if (ids.length === 0) return;
      await db.run('mark outbox published', markOutboxPublished(db.t, relayId, ids));
    },
    async release(relayId, ids) {
      if (ids.length === 0) return;
      await db.run('release outbox claim', releaseOutboxClaim(db.t, relayId, ids));
    },
    async findByCorrelation(correlationId) {
      const { rows } = await db.run<OutboxRow>('find outbox by correlation', findOutboxByCorrelation(db.t, correlationId));
      return rows.map(toOutboxEntry);
    },
    async backlog() {
      const { rows } = await db.run<BacklogRow>('outbox backlog', countOutboxBacklog(db.t));
      return rows.map(toTopicBacklog);
    },
  };
}

function invalid(message: string): never {
  throw new HeraldError(CoreErrors.invalidOptions, `pgStores: ${message}`);
}
