import { randomUUID } from 'node:crypto';
import { CoreErrors, HeraldError, type IdempotencyBegin, type IdempotencyStore, type SqlTx } from '@herald/core';
import { idempotencyLeaseEnd } from '@herald/sql';
import type { StoreDeps } from './outbox.js';

interface Row { fingerprint: string; state: 'in-flight' | 'completed'; response: string | null; created_at: number; expires_at: number; lease_expires_at: number }

/**
 * Idempotency records on SQLite. `begin` reads and claims in one write transaction, so two
 * requests with the same key cannot both start. A record whose `expiresAt` is at or before `now`
 * counts as absent (and is replaced); an in-flight one past its lease is taken over by a request
 * with the same fingerprint, under a new owner token (a lease a release without leases left counts
 * as 60 s from the attempt's start: see `idempotencyLeaseEnd`). `complete` and `abandon` touch only the
 * in-flight record of their owner. Responses are stored as JSON.
 */
export function createIdempotencyStore(deps: StoreDeps): IdempotencyStore<SqlTx> {
  const { writer, runner, scopeOf } = deps;
  const s = {
    get: writer.prepare<unknown[], Row>('SELECT fingerprint, state, response, created_at, expires_at, lease_expires_at FROM herald_idempotency WHERE key = ?'),
    start: writer.prepare(
      `INSERT INTO herald_idempotency (key, fingerprint, state, response, owner, created_at, expires_at, lease_expires_at) VALUES (?, ?, 'in-flight', NULL, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in-flight', response = NULL, owner = excluded.owner,
         created_at = excluded.created_at, expires_at = excluded.expires_at, lease_expires_at = excluded.lease_expires_at`,
    ),
    complete: writer.prepare("UPDATE herald_idempotency SET state = 'completed', response = ? WHERE key = ? AND state = 'in-flight' AND owner = ?"),
    abandon: writer.prepare("DELETE FROM herald_idempotency WHERE key = ? AND state = 'in-flight' AND owner = ?"),
    purge: writer.prepare('DELETE FROM herald_idempotency WHERE expires_at <= ?'),
  };
  return {
    begin({ key, fingerprint, now, ttlMs, leaseMs = ttlMs }) {
      return runner.run((scope): IdempotencyBegin => {
        const row = scope.get(s.get, [key]);
        if (row && row.expires_at > now) {
          if (row.fingerprint !== fingerprint) return { outcome: 'mismatch' };
          if (row.state === 'completed') return { outcome: 'completed', response: row.response === null ? undefined : (JSON.parse(row.response) as unknown) };
          if (idempotencyLeaseEnd(row) > now) return { outcome: 'in-flight' };
        }
        const owner = randomUUID();
        scope.run(s.start, [key, fingerprint, owner, now, now + ttlMs, now + leaseMs]);
        return { outcome: 'started', owner };
      });
    },
    async complete(tx, { key, owner, response }) {
      const changed = (await scopeOf(tx)).run(s.complete, [response === undefined ? null : JSON.stringify(response), key, owner]);
      // thrown inside the request's transaction, so its effects roll back with the lost key
      if (changed === 0) {
        throw new HeraldError(CoreErrors.idempotencyLeaseLost, `sqliteStores: idempotency key ${JSON.stringify(key)} is no longer held by this attempt (taken over, completed or abandoned)`);
      }
    },
    abandon({ key, owner }) {
      return runner.run((scope) => {
        scope.run(s.abandon, [key, owner]);
      });
    },
    purgeExpired(now) {
      return runner.run((scope) => scope.run(s.purge, [now]));
    },
  };
}
