import { HeraldError, type IdempotencyBegin, type IdempotencyStore, type SqlTx } from '@herald/core';
import { PgErrors } from '../../errors.js';
import { deleteInChunks } from '../chunks.js';
import type { Db } from '../db.js';
import { executeInTx } from '../transaction.js';
import { abandonIdempotency } from './abandonIdempotency.js';
import { claimIdempotencyKey, readIdempotencyKey, type BeginOptions } from './beginIdempotency.js';
import { completeIdempotency } from './completeIdempotency.js';
import { purgeExpiredIdempotency } from './purgeExpiredIdempotency.js';

/** Rounds of claim-then-read before giving up: each lost round means the holder vanished in between. */
const BEGIN_ROUNDS = 5;

/**
 * Idempotency keys on PostgreSQL. `purgeExpired` deletes in bounded chunks, skipping records other
 * transactions hold. `begin` is atomic: an `INSERT ... ON CONFLICT DO UPDATE ... WHERE
 * expired` either takes the key or leaves the live record, which is then read and reported
 * (`mismatch` when its fingerprint differs, whatever its state; else `in-flight` or `completed`).
 */
export function pgIdempotencyStore(db: Db): IdempotencyStore<SqlTx> {
  async function beginRound(options: BeginOptions): Promise<IdempotencyBegin | undefined> {
    const claimed = await db.run('begin idempotency key', claimIdempotencyKey(db.t, options));
    if (claimed.rows.length === 1) return { outcome: 'started' };
    const { rows } = await db.run<{ fingerprint: string; state: string; response: string | null }>(
      'read idempotency key',
      readIdempotencyKey(db.t, options),
    );
    const record = rows[0];
    // gone between the two statements (abandoned or purged): try to take it again
    if (!record) return undefined;
    if (record.fingerprint !== options.fingerprint) return { outcome: 'mismatch' };
    if (record.state === 'in-flight') return { outcome: 'in-flight' };
    return { outcome: 'completed', response: record.response === null ? undefined : JSON.parse(record.response) };
  }

  return {
    async begin(options) {
      for (let round = 0; round < BEGIN_ROUNDS; round++) {
        const result = await beginRound(options);
        if (result) return result;
      }
      throw new HeraldError(PgErrors.conflict, `pgStores: idempotency key ${JSON.stringify(options.key)} kept changing hands`, { retriable: true });
    },
    async complete(tx, options) {
      await executeInTx(tx, 'complete idempotency key', completeIdempotency(db.t, options));
    },
    async abandon(key) {
      await db.run('abandon idempotency key', abandonIdempotency(db.t, key));
    },
    purgeExpired(now) {
      return deleteInChunks(db, 'purge idempotency keys', (limit) => purgeExpiredIdempotency(db.t, { now, limit }));
    },
  };
}
