import { randomUUID } from 'node:crypto';
import { CoreErrors, HeraldError, type IdempotencyBegin, type IdempotencyStore, type SqlTx } from '@herald/core';
import { PgErrors } from '../../errors.js';
import { deleteInChunks } from '../chunks.js';
import type { Db } from '../db.js';
import { executeInTx } from '../txStatements.js';
import { abandonIdempotency } from './abandonIdempotency.js';
import { claimIdempotencyKey, readIdempotencyKey, type BeginOptions } from './beginIdempotency.js';
import { completeIdempotency } from './completeIdempotency.js';
import { purgeExpiredIdempotency } from './purgeExpiredIdempotency.js';

/** Rounds of claim-then-read before giving up: each lost round means the holder vanished in between. */
const BEGIN_ROUNDS = 5;

/**
 * Idempotency keys on PostgreSQL. `purgeExpired` deletes in bounded chunks, skipping records other
 * transactions hold. `begin` is atomic: an `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired or
 * lease lapsed` either takes the key under a new owner token or leaves the live record, which is
 * then read and reported (`mismatch` when its fingerprint differs, whatever its state; else
 * `in-flight` or `completed`). `complete` and `abandon` touch only the in-flight record of their
 * owner; a completion that finds none throws inside the request's transaction, rolling it back.
 */
export function pgIdempotencyStore(db: Db): IdempotencyStore<SqlTx> {
  async function beginRound(options: BeginOptions): Promise<IdempotencyBegin | undefined> {
    const claimed = await db.run('begin idempotency key', claimIdempotencyKey(db.t, options));
    if (claimed.rows.length === 1) return { outcome: 'started', owner: options.owner };
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
    async begin({ key, fingerprint, now, ttlMs, leaseMs = ttlMs }) {
      const options: BeginOptions = { key, fingerprint, now, ttlMs, leaseMs, owner: randomUUID() };
      for (let round = 0; round < BEGIN_ROUNDS; round++) {
        const result = await beginRound(options);
        if (result) return result;
      }
      throw new HeraldError(PgErrors.conflict, `pgStores: idempotency key ${JSON.stringify(options.key)} kept changing hands`, { retriable: true });
    },
    async complete(tx, options) {
      const changed = await executeInTx(tx, 'complete idempotency key', completeIdempotency(db.t, options));
      if (changed === 0) {
        throw new HeraldError(CoreErrors.idempotencyLeaseLost, `pgStores: idempotency key ${JSON.stringify(options.key)} is no longer held by this attempt (taken over, completed or abandoned)`);
      }
    },
    async abandon(options) {
      await db.run('abandon idempotency key', abandonIdempotency(db.t, options));
    },
    purgeExpired(now) {
      return deleteInChunks(db, 'purge idempotency keys', (limit) => purgeExpiredIdempotency(db.t, { now, limit }));
    },
  };
}
