import type Database from 'better-sqlite3';
import type { Clock, OutboxBacklog, OutboxRecord, OutboxStore, SqlTx, TopicBacklog } from '@herald/core';
import { OUTBOX_ENTRY_COLUMNS, OUTBOX_RECORD_COLUMNS, outboxValues, toOutboxEntry, toOutboxRecord, type OutboxRow } from '@herald/sql';
import type { TxRunner, TxScope } from './txRunner.js';

export interface StoreDeps {
  readonly writer: Database.Database;
  readonly reader: Database.Database;
  readonly runner: TxRunner;
  readonly scopeOf: (tx: SqlTx) => TxScope;
  readonly clock: Clock;
}

/** What a claim reads: the record, its position and its claim. */
interface ClaimRow extends OutboxRow {
  seq: number;
  claimed_by: string | null;
  claim_expires_at: number | null;
}

/**
 * A claim settles once the transactions that appended what it claims are on disk (it must never
 * hand out a record whose transaction could still vanish in a power cut), without waiting for its
 * own write; marks and releases settle at COMMIT. Losing any of them in a power cut only means some
 * records are published again, which consumers' inboxes absorb.
 */
const CLAIM = { durable: 'prior' } as const;
const MARK = { durable: 'none' } as const;

/** How far past `limit` a claim looks for records whose keys no other relay holds. */
const SCAN_SLACK = 1000;

/**
 * The outbox on SQLite. Records keep append order through `seq`. A claim reads unpublished
 * records in append order (through a partial index holding only those) inside the write
 * transaction, so claims are serialised; it skips every record of a key that has an earlier
 * record under another relay's unexpired claim, so per-key order holds however many relays run.
 * It looks at most `limit * 4 + 1000` records deep, so a large backlog held by another relay
 * costs a bounded scan. Published records are kept (for workflow views) until the retention
 * sweep removes them. The backlog (committed, unpublished records per topic) reads the read
 * connection, so it never sees a transaction that has not committed.
 */
export function createOutboxStore(deps: StoreDeps): OutboxStore<SqlTx> & OutboxBacklog {
  const { writer, reader, runner, scopeOf, clock } = deps;
  const s = {
    insert: writer.prepare(
      `INSERT INTO herald_outbox (${OUTBOX_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    unpublished: writer.prepare<unknown[], ClaimRow>(
      `SELECT seq, ${OUTBOX_RECORD_COLUMNS}, claimed_by, claim_expires_at FROM herald_outbox WHERE published_at IS NULL AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    claimRange: writer.prepare('UPDATE herald_outbox SET claimed_by = ?, claim_expires_at = ? WHERE seq BETWEEN ? AND ? AND published_at IS NULL'),
    claimOne: writer.prepare('UPDATE herald_outbox SET claimed_by = ?, claim_expires_at = ? WHERE seq = ?'),
    // one statement per call: the ids go in as a JSON array (no per-row round trip from JavaScript)
    markPublished: writer.prepare(
      'UPDATE herald_outbox SET published_at = ?, claimed_by = NULL, claim_expires_at = NULL WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL',
    ),
    release: writer.prepare('UPDATE herald_outbox SET claimed_by = NULL, claim_expires_at = NULL WHERE id IN (SELECT value FROM json_each(?)) AND claimed_by = ? AND published_at IS NULL'),
    byCorrelation: reader.prepare<[string], OutboxRow>(`SELECT ${OUTBOX_ENTRY_COLUMNS} FROM herald_outbox WHERE correlation_id = ? ORDER BY seq`),
    // no index of its own: the partial index of unpublished rows finds them, and an extra index
    // would cost every append and every mark on the hot path to speed up a metrics read
    backlog: reader.prepare<[], { topic: string; pending: number; oldest_created_at: number }>(
      'SELECT topic, count(*) AS pending, min(created_at) AS oldest_created_at FROM herald_outbox WHERE published_at IS NULL GROUP BY topic ORDER BY topic',
    ),
  };

  function claimRows(scope: TxScope, relayId: string, limit: number, leaseMs: number): OutboxRecord[] {
    const now = clock.now();
    const blocked = new Set<string>();
    const claimed: ClaimRow[] = [];
    let contiguous = true;
    const depth = limit * 4 + SCAN_SLACK;
    const page = Math.max(limit, 100);
    let after = 0;
    for (let scanned = 0; claimed.length < limit && scanned < depth; ) {
      const rows = scope.all(s.unpublished, [after, page]);
      for (const row of rows) {
        if (claimed.length >= limit) break;
        const heldElsewhere = row.claimed_by !== null && row.claimed_by !== relayId && row.claim_expires_at! > now;
        if (heldElsewhere || blocked.has(row.key)) {
          blocked.add(row.key);
          if (claimed.length > 0) contiguous = false;
        } else {
          claimed.push(row);
        }
      }
      scanned += rows.length;
      if (rows.length < page) break;
      after = rows[rows.length - 1]!.seq;
    }
    if (claimed.length === 0) return [];
    const expires = now + leaseMs;
    if (contiguous) scope.run(s.claimRange, [relayId, expires, claimed[0]!.seq, claimed[claimed.length - 1]!.seq]);
    else for (const row of claimed) scope.run(s.claimOne, [relayId, expires, row.seq]);
    return claimed.map(toOutboxRecord);
  }

  return {
    async append(tx, records) {
      const scope = scopeOf(tx);
      for (const r of records) {
        scope.run(s.insert, outboxValues(r));
      }
      if (records.length > 0) scope.appended = true;
    },
    claim({ relayId, limit, leaseMs }) {
      return runner.run((scope) => claimRows(scope, relayId, limit, leaseMs), CLAIM);
    },
    markPublished(_relayId, ids) {
      if (ids.length === 0) return Promise.resolve();
      return runner.run((scope) => {
        scope.run(s.markPublished, [clock.now(), JSON.stringify(ids)]);
      }, MARK);
    },
    release(relayId, ids) {
      if (ids.length === 0) return Promise.resolve();
      return runner.run((scope) => {
        scope.run(s.release, [JSON.stringify(ids), relayId]);
      }, MARK);
    },
    async findByCorrelation(correlationId) {
      return s.byCorrelation.all(correlationId).map(toOutboxEntry);
    },
    async backlog() {
      return s.backlog.all().map((row): TopicBacklog => ({ topic: row.topic, pending: row.pending, oldestCreatedAt: row.oldest_created_at }));
    },
  };
}
