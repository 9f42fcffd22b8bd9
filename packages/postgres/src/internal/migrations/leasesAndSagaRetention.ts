import { EARLIER_RELEASE_LEASE_MS } from '@herald/sql';
import { NOW_MS } from '../tables.js';
import type { Migration } from './migration.js';

/**
 * Versions 10-12: an idempotency key held by one attempt at a time under a lease, and retention of
 * finished saga instances.
 */
export const LEASES_AND_SAGA_RETENTION: readonly Migration[] = [
  {
    version: 10,
    name: 'idempotency key owners and leases',
    // An idempotency key is held by one attempt at a time: the owner token of the attempt holding
    // an in-flight key (only it may complete or abandon it) and when its lease runs out (then a
    // retry takes the key over). Keys in flight before this version have no owner, so only a
    // takeover can finish them: their lease is the gateway's default 60 s from when they were
    // taken. Adding a column with a constant default rewrites no rows.
    sql: (t) => `
      ALTER TABLE ${t.idempotency} ADD COLUMN owner text, ADD COLUMN lease_expires_at bigint NOT NULL DEFAULT 0;
      UPDATE ${t.idempotency} SET lease_expires_at = created_at + 60000 WHERE state = 'in-flight';
    `,
  },
  {
    version: 11,
    name: 'a live lease for idempotency keys the previous release takes',
    // Processes of the release before version 10, still running in a rolling upgrade, insert keys
    // without lease_expires_at: version 10's default gave them 0, a lease already run out, so a
    // retry reaching an upgraded process took the key over at once and both attempts committed.
    // Their inserts now get a live lease from the default, as version 7's default gives that
    // release's outbox rows their txid (this release always writes the column itself).
    // Which lease: the store's default lease is the key's whole ttlMs, which a column default
    // cannot read (it may not refer to expires_at). That release's own lease was its gateway's
    // default leaseMs, 60 s (a separate lease record; its retries got through once it lapsed), the
    // one version 10 gives keys in flight at the upgrade: an old attempt is held off from upgraded
    // processes as long as its own release held off its retries. A constant of a day (the default
    // ttl) would instead leave the key of an old process that died answering 'in flight' for a
    // day. Stamped by the database clock (as version 7's txid); `begin` compares with the caller's
    // clock, so hosts' clock skew shifts the lease by as much.
    sql: (t) => `
      ALTER TABLE ${t.idempotency} ALTER COLUMN lease_expires_at SET DEFAULT (${NOW_MS} + ${EARLIER_RELEASE_LEASE_MS});
    `,
  },
  {
    version: 12,
    name: 'retention of saga instances',
    // The retention sweep deletes the instances that finished, oldest save first. `sagas_status` leads with the saga's name, so the sweep could only read it
    // whole; this index holds only the instances the sweep may delete (no running one: a running
    // saga's saves do not write it; none awaiting its start, whose events retention never drops). Its condition is the sweep's (sagas/purgeSagas.ts), word for
    // word, so the planner can prove the sweep's rows are in it. Building it blocks saga saves while
    // it runs: on a large sagas table, migrate when quiet.
    sql: (t) => `
      CREATE INDEX sagas_finished ON ${t.sagas} (updated_at) WHERE status IN ('completed', 'failed');
    `,
  },
];
