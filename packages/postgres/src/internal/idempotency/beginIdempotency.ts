import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

export interface BeginOptions {
  readonly key: string;
  readonly fingerprint: string;
  readonly now: number;
  readonly ttlMs: number;
}

/**
 * Claims the key in one statement: inserts an in-flight record, or replaces one that has expired
 * (an expired key counts as absent). Returns a row only when this call took the key. Two callers
 * racing for a new key serialise on its primary key: the second waits, then sees the first's row.
 */
export function claimIdempotencyKey(t: Tables, options: BeginOptions): Statement {
  return {
    name: `${t.statementPrefix}begin_idempotency`,
    text: `INSERT INTO ${t.idempotency} AS i (key, fingerprint, state, response, created_at, expires_at)
      VALUES ($1, $2, 'in-flight', NULL, $3::bigint, $3::bigint + $4::bigint)
      ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, state = 'in-flight', response = NULL,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
        WHERE i.expires_at <= $3::bigint
      RETURNING 1 AS started`,
    values: [options.key, options.fingerprint, options.now, Math.ceil(options.ttlMs)],
  };
}

/** The live (unexpired) record holding the key, if any. */
export function readIdempotencyKey(t: Tables, options: { key: string; now: number }): Statement {
  return {
    name: `${t.statementPrefix}read_idempotency`,
    text: `SELECT fingerprint, state, response FROM ${t.idempotency} WHERE key = $1 AND expires_at > $2::bigint`,
    values: [options.key, options.now],
  };
}
