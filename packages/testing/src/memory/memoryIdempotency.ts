import { randomUUID } from 'node:crypto';
import { CoreErrors, HeraldError, type IdempotencyRecord, type IdempotencyStore } from '@herald/core';
import type { MemoryDatabase, MemoryTx, TxState } from './memoryTx.js';

/** The memory idempotency store plus the commit step that applies a transaction's completions. */
export interface MemoryIdempotency extends IdempotencyStore<MemoryTx> {
  applyCommitted(state: TxState): void;
}

/**
 * Idempotency records in memory. `begin` is atomic (JavaScript runs it in one step): a key that
 * is absent or expired (`expiresAt <= now`), or in flight with the same fingerprint past its lease,
 * is claimed with a fresh owner token; otherwise a different fingerprint is a `mismatch`, an
 * unfinished request is `in-flight` and a finished one returns its response. `complete` checks the
 * owner and locks the record until its transaction settles (as the UPDATE's row lock does in SQL):
 * meanwhile `begin` reports the key `in-flight` and `purgeExpired` skips it. The completion takes
 * effect when the transaction commits.
 */
export function createMemoryIdempotency(db: MemoryDatabase): MemoryIdempotency {
  const records = new Map<string, IdempotencyRecord>();

  return {
    async begin({ key, fingerprint, now, ttlMs, leaseMs = ttlMs }) {
      for (const [name, value] of [['ttlMs', ttlMs], ['leaseMs', leaseMs]] as const) {
        if (!(Number.isFinite(value) && value > 0)) throw new HeraldError(CoreErrors.invalidOptions, `idempotency: ${name} must be positive, got ${value}`);
      }
      const found = records.get(key);
      const live = found !== undefined && found.expiresAt > now;
      if (live && found.fingerprint !== fingerprint) return { outcome: 'mismatch' };
      if (live && found.state === 'completed') return { outcome: 'completed', response: structuredClone(found.response) };
      if (live && found.leaseExpiresAt > now) return { outcome: 'in-flight' };
      // a completion not yet committed holds the key, whatever its lease or expiry say
      if (found && db.isLocked(lockName(key))) return { outcome: 'in-flight' };
      const owner = randomUUID();
      records.set(key, { key, fingerprint, state: 'in-flight', response: null, owner, createdAt: now, expiresAt: now + ttlMs, leaseExpiresAt: now + leaseMs });
      return { outcome: 'started', owner };
    },
    async complete(tx, { key, owner, response }) {
      const state = db.stateOf(tx);
      await db.lock(state, lockName(key));
      const found = records.get(key);
      if (found?.state !== 'in-flight' || found.owner !== owner) throw leaseLost(key);
      state.completions.set(key, structuredClone(response));
    },
    applyCommitted(state) {
      for (const [key, response] of state.completions) {
        const found = records.get(key);
        if (found) records.set(key, { ...found, state: 'completed', response });
      }
    },
    async abandon({ key, owner }) {
      const found = records.get(key);
      if (found?.state === 'in-flight' && found.owner === owner) records.delete(key);
    },
    async purgeExpired(now) {
      let purged = 0;
      for (const [key, record] of records) {
        if (record.expiresAt <= now && !db.isLocked(lockName(key))) {
          records.delete(key);
          purged++;
        }
      }
      return purged;
    },
  };
}

const lockName = (key: string): string => `idempotency\u0000${key}`;

function leaseLost(key: string): HeraldError {
  return new HeraldError(CoreErrors.idempotencyLeaseLost, `idempotency: key ${JSON.stringify(key)} is no longer held by this attempt (its lease was taken over, or it was completed or abandoned)`);
}
