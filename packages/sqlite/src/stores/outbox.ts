import type Database from 'better-sqlite3';
import type { Clock, OutboxEntry, OutboxRecord, OutboxStore, SqlTx } from '@herald/core';
import { headersText, parseHeaders } from '../internal/headers.js';
import type { TxRunner, TxScope } from './txRunner.js';

export interface StoreDeps {
  readonly writer: Database.Database;
  readonly reader: Database.Database;
  readonly runner: TxRunner;
  readonly scopeOf: (tx: SqlTx) => TxScope;
  readonly clock: Clock;
}

interface OutboxRow {
  seq: number;
  id: string;
  topic: string;
  key: string;
  type: string;
  correlation_id: string;
  value: string;
  headers: string | null;
  created_at: number;
  published_at: number | null;
  claimed_by: string | null;
  claim_expires_at: number | null;
}

const COLUMNS = 'seq, id, topic, key, type, correlation_id, value, headers, created_at, published_at, claimed_by, claim_expires_at';

/**
 * The outbox on SQLite. Records keep append order through `seq`. Claims go through a single
 * relay lease row: while one relay's lease is unexpired, other relays claim nothing, so per-key
 * order holds across relays (SQLite has one writer anyway, so parallel relays would not be
 * faster). A relay that finds nothing to claim gives the lease up. As a second guard, a claim
 * skips every record of a key that has an earlier record under another relay's unexpired claim.
 * Published records are kept (for workflow views) until the retention sweep removes them.
 */
export function createOutboxStore(deps: StoreDeps): OutboxStore<SqlTx> {
  const { writer, reader, runner, scopeOf, clock } = deps;
  const s = {
    insert: writer.prepare(
      'INSERT INTO herald_outbox (id, topic, key, type, correlation_id, value, headers, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
    ),
    lease: writer.prepare<[], { relay_id: string; expires_at: number }>('SELECT relay_id, expires_at FROM herald_outbox_lease WHERE singleton = 1'),
    takeLease: writer.prepare(
      'INSERT INTO herald_outbox_lease (singleton, relay_id, expires_at) VALUES (1, ?, ?) ON CONFLICT (singleton) DO UPDATE SET relay_id = excluded.relay_id, expires_at = excluded.expires_at',
    ),
    dropLease: writer.prepare('DELETE FROM herald_outbox_lease WHERE singleton = 1 AND relay_id = ?'),
    unpublished: writer.prepare<[number], OutboxRow>(`SELECT ${COLUMNS} FROM herald_outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?`),
    claimRange: writer.prepare('UPDATE herald_outbox SET claimed_by = ?, claim_expires_at = ? WHERE seq BETWEEN ? AND ? AND published_at IS NULL'),
    claimOne: writer.prepare('UPDATE herald_outbox SET claimed_by = ?, claim_expires_at = ? WHERE seq = ?'),
    markPublished: writer.prepare('UPDATE herald_outbox SET published_at = ?, claimed_by = NULL, claim_expires_at = NULL WHERE id = ? AND published_at IS NULL'),
    release: writer.prepare('UPDATE herald_outbox SET claimed_by = NULL, claim_expires_at = NULL WHERE id = ? AND claimed_by = ? AND published_at IS NULL'),
    byCorrelation: reader.prepare<[string], OutboxRow>(`SELECT ${COLUMNS} FROM herald_outbox WHERE correlation_id = ? ORDER BY seq`),
  };

  function claimRows(relayId: string, limit: number, leaseMs: number): OutboxRecord[] {
    const now = clock.now();
    const lease = s.lease.get();
    if (lease && lease.relay_id !== relayId && lease.expires_at > now) return [];
    const rows = s.unpublished.all(limit);
    const blocked = new Set<string>();
    const claimed: OutboxRow[] = [];
    for (const row of rows) {
      const heldElsewhere = row.claimed_by !== null && row.claimed_by !== relayId && row.claim_expires_at! > now;
      if (heldElsewhere || blocked.has(row.key)) blocked.add(row.key);
      else claimed.push(row);
    }
    if (claimed.length === 0) {
      s.dropLease.run(relayId);
      return [];
    }
    const expires = now + leaseMs;
    s.takeLease.run(relayId, expires);
    if (claimed.length === rows.length) s.claimRange.run(relayId, expires, claimed[0]!.seq, claimed[claimed.length - 1]!.seq);
    else for (const row of claimed) s.claimOne.run(relayId, expires, row.seq);
    return claimed.map(toRecord);
  }

  return {
    async append(tx, records) {
      const scope = scopeOf(tx);
      for (const r of records) {
        s.insert.run(r.id, r.topic, r.key, r.type, r.correlationId, r.value, headersText(r.headers), r.createdAt);
      }
      if (records.length > 0) scope.appended = true;
    },
    claim({ relayId, limit, leaseMs }) {
      return runner.run(() => claimRows(relayId, limit, leaseMs));
    },
    markPublished(_relayId, ids) {
      if (ids.length === 0) return Promise.resolve();
      return runner.run(() => {
        const now = clock.now();
        for (const id of ids) s.markPublished.run(now, id);
      });
    },
    release(relayId, ids) {
      if (ids.length === 0) return Promise.resolve();
      return runner.run(() => {
        for (const id of ids) s.release.run(id, relayId);
      });
    },
    async findByCorrelation(correlationId) {
      return s.byCorrelation.all(correlationId).map((row): OutboxEntry => ({ ...toRecord(row), publishedAt: row.published_at }));
    },
  };
}

function toRecord(row: OutboxRow): OutboxRecord {
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    type: row.type,
    correlationId: row.correlation_id,
    value: row.value,
    headers: parseHeaders(row.headers),
    createdAt: row.created_at,
  };
}
