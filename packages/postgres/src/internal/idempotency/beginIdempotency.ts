import { idempotencyLeaseEndSql } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

export interface BeginOptions {
  readonly key: string;
  readonly fingerprint: string;
  readonly now: number;
  readonly ttlMs: number;
  readonly leaseMs: number;
  /** The token this attempt holds the key with, if it takes it. */
  readonly owner: string;
}

/**
 * Claims the key in one statement: inserts an in-flight record, replaces one that has expired (an
 * expired key counts as absent), or takes over one in flight with the same fingerprint whose lease
 * ran out (its holder is presumed dead; the new owner token locks it out). A lease a release
 * without leases left (see `idempotencyLeaseEndSql`) counts as 60 s from the attempt's start. Returns a row only when
 * this call took the key. Two callers racing for a key serialise on its primary key: the second
 * waits, then sees the first's row; a claim racing an uncommitted completion waits for it the same
 * way, then finds the key completed.
 */
export function claimIdempotencyKey(t: Tables, options: BeginOptions): Statement {
  return {
    name: `${t.statementPrefix}begin_idempotency_owned`,
    text: `INSERT INTO ${t.idempotency} AS i (key, fingerprint, state, response, owner, created_at, expires_at, lease_expires_at)
      VALUES ($1, $2, 'in-flight', NULL, $5, $3::bigint, $3::bigint + $4::bigint, $3::bigint + $6::bigint)
      ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, state = 'in-flight', response = NULL, owner = EXCLUDED.owner,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, lease_expires_at = EXCLUDED.lease_expires_at
        WHERE i.expires_at <= $3::bigint
          OR (i.state = 'in-flight' AND ${idempotencyLeaseEndSql('i')} <= $3::bigint AND i.fingerprint = EXCLUDED.fingerprint)
      RETURNING 1 AS started`,
    values: [options.key, options.fingerprint, options.now, Math.ceil(options.ttlMs), options.owner, Math.ceil(options.leaseMs)],
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
