import type { Clock } from '@herald/core';
import { toNumber } from '@herald/sql';
import type { Db } from '../db.js';
import { findOutboxHoldback, type HoldbackRow } from './findOutboxHoldback.js';

/** A claim that took nothing looks at most this often for records held back by an older transaction. */
export const HOLDBACK_CHECK_MS = 10_000;
/** Records held back by the same transaction this long are worth a warning... */
export const HOLDBACK_WARN_AFTER_MS = 30_000;
/** ...repeated at most this often while it lasts. */
export const HOLDBACK_WARN_EVERY_MS = 60_000;

/**
 * Watches for the relay's one way to stall: claims take only rows of transactions older than every
 * running one (so nothing commits below a watermark), and that is cluster-wide, so one long
 * transaction that has written (in any database of the server: a batch job, a session idle in
 * transaction, a slow handler) holds back every record appended after it began. After a claim that
 * took nothing, at most every {@link HOLDBACK_CHECK_MS} by `clock`, it checks whether committed
 * records wait for such a transaction; when the same one has held them back for
 * {@link HOLDBACK_WARN_AFTER_MS} (seen by this process, or by the transaction's own age) it warns,
 * naming the transaction (pid, database, user, application, age), at most every
 * {@link HOLDBACK_WARN_EVERY_MS}. A failed check is logged at debug and never fails the claim.
 */
export function createHoldbackWatch(db: Db, clock: Clock): { afterEmptyClaim(): Promise<void> } {
  let checkedAt = Number.NEGATIVE_INFINITY;
  let warnedAt = Number.NEGATIVE_INFINITY;
  let seen: { xmin: string; since: number } | undefined;

  return {
    async afterEmptyClaim() {
      const now = clock.now();
      if (now - checkedAt < HOLDBACK_CHECK_MS) return;
      checkedAt = now;
      let row: HoldbackRow | undefined;
      try {
        row = (await db.run<HoldbackRow>('outbox holdback', findOutboxHoldback(db.t))).rows[0];
      } catch (error) {
        db.logger.debug('pgStores: could not check the outbox for held-back records', { error });
        return;
      }
      if (!row?.held) {
        seen = undefined;
        return;
      }
      if (seen?.xmin !== row.xmin) seen = { xmin: row.xmin, since: now };
      const ageMs = row.age_ms === null ? undefined : toNumber(row.age_ms);
      const heldMs = Math.max(now - seen.since, ageMs ?? 0);
      if (heldMs < HOLDBACK_WARN_AFTER_MS || now - warnedAt < HOLDBACK_WARN_EVERY_MS) return;
      warnedAt = now;
      db.logger.warn(describe(row), {
        heldForMs: heldMs,
        xmin: row.xmin,
        pid: row.pid ?? undefined,
        database: row.database ?? undefined,
        user: row.user_name ?? undefined,
        application: row.application ?? undefined,
        state: row.state ?? undefined,
        preparedTransaction: row.prepared ?? undefined,
        transactionAgeMs: ageMs,
      });
    },
  };
}

function describe(row: HoldbackRow): string {
  const head = 'pgStores: outbox records are held back: the relay takes only records of transactions older than every running one';
  if (row.prepared !== null) return `${head}, and prepared transaction ${JSON.stringify(row.prepared)} in database ${row.database} is still open (commit or roll it back)`;
  if (row.pid !== null && row.database !== null) {
    return `${head}, and pid ${row.pid} in database ${row.database} (${row.state ?? 'unknown state'}) has been in a transaction that wrote for ${row.age_ms} ms`;
  }
  return `${head}; the oldest running transaction is not visible to this role (grant it pg_read_all_stats to have it named)`;
}
