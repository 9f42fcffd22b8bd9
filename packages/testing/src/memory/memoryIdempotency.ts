import { CoreErrors, HeraldError, type IdempotencyRecord, type IdempotencyStore } from '@herald/core';
import type { MemoryDatabase, MemoryTx, TxState } from './memoryTx.js';

/** The memory idempotency store plus the commit step that applies a transaction's completions. */
export interface MemoryIdempotency extends IdempotencyStore<MemoryTx> {
  applyCommitted(state: TxState): void;
}

/**
 * Idempotency records in memory. `begin` is atomic (JavaScript runs it in one step): a key that
 * is absent or expired (`expiresAt <= now`) is claimed, otherwise a different fingerprint is a
 * `mismatch`, an unfinished request is `in-flight` and a finished one returns its response.
 * `complete` takes effect when its transaction commits.
 */
export function createMemoryIdempotency(db: MemoryDatabase): MemoryIdempotency {
  const records = new Map<string, IdempotencyRecord>();

  return {
    async begin({ key, fingerprint, now, ttlMs }) {
      if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new HeraldError(CoreErrors.invalidOptions, `idempotency: ttlMs must be positive, got ${ttlMs}`);
      const found = records.get(key);
      if (!found || found.expiresAt <= now) {
        records.set(key, { key, fingerprint, state: 'in-flight', response: null, createdAt: now, expiresAt: now + ttlMs });
        return { outcome: 'started' };
      }
      if (found.fingerprint !== fingerprint) return { outcome: 'mismatch' };
      if (found.state === 'in-flight') return { outcome: 'in-flight' };
      return { outcome: 'completed', response: structuredClone(found.response) };
    },
    async complete(tx, { key, response }) {
      db.stateOf(tx).completions.set(key, structuredClone(response));
    },
    applyCommitted(state) {
      for (const [key, response] of state.completions) {
        const found = records.get(key);
        if (found) records.set(key, { ...found, state: 'completed', response });
      }
    },
    async abandon(key) {
      if (records.get(key)?.state === 'in-flight') records.delete(key);
    },
    async purgeExpired(now) {
      let purged = 0;
      for (const [key, record] of records) {
        if (record.expiresAt <= now) {
          records.delete(key);
          purged++;
        }
      }
      return purged;
    },
  };
}
