import type { IdempotencyBegin, IdempotencyStore, SqlTx } from '@herald/core';
import type { StoreDeps } from './outbox.js';

interface Row { fingerprint: string; state: 'in-flight' | 'completed'; response: string | null; expires_at: number }

/**
 * Idempotency records on SQLite. `begin` reads and claims in one write transaction, so two
 * requests with the same key cannot both start. A record whose `expiresAt` is at or before `now`
 * counts as absent (and is replaced). Responses are stored as JSON.
 */
export function createIdempotencyStore(deps: StoreDeps): IdempotencyStore<SqlTx> {
  const { writer, runner, scopeOf } = deps;
  const s = {
    get: writer.prepare<unknown[], Row>('SELECT fingerprint, state, response, expires_at FROM herald_idempotency WHERE key = ?'),
    start: writer.prepare(
      `INSERT INTO herald_idempotency (key, fingerprint, state, response, created_at, expires_at) VALUES (?, ?, 'in-flight', NULL, ?, ?)
       ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in-flight', response = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at`,
    ),
    complete: writer.prepare("UPDATE herald_idempotency SET state = 'completed', response = ? WHERE key = ?"),
    abandon: writer.prepare("DELETE FROM herald_idempotency WHERE key = ? AND state = 'in-flight'"),
    purge: writer.prepare('DELETE FROM herald_idempotency WHERE expires_at <= ?'),
  };
  return {
    begin({ key, fingerprint, now, ttlMs }) {
      return runner.run((scope): IdempotencyBegin => {
        const row = scope.get(s.get, [key]);
        if (row && row.expires_at > now) {
          if (row.fingerprint !== fingerprint) return { outcome: 'mismatch' };
          if (row.state === 'in-flight') return { outcome: 'in-flight' };
          return { outcome: 'completed', response: row.response === null ? undefined : (JSON.parse(row.response) as unknown) };
        }
        scope.run(s.start, [key, fingerprint, now, now + ttlMs]);
        return { outcome: 'started' };
      });
    },
    async complete(tx, { key, response }) {
      scopeOf(tx).run(s.complete, [response === undefined ? null : JSON.stringify(response), key]);
    },
    abandon(key) {
      return runner.run((scope) => {
        scope.run(s.abandon, [key]);
      });
    },
    purgeExpired(now) {
      return runner.run((scope) => scope.run(s.purge, [now]));
    },
  };
}
