import { CoreErrors, HeraldError, type Clock, type OutboxBacklog, type OutboxEntry, type OutboxRecord, type OutboxStore, type TopicBacklog } from '@herald/core';
import type { MemoryDatabase, MemoryTx, TxState } from './memoryTx.js';

interface Row {
  readonly record: OutboxRecord;
  publishedAt: number | null;
  claim: { relayId: string; expiresAt: number } | null;
}

/** The memory outbox (with its backlog) plus the commit step that makes a transaction's appended records visible. */
export interface MemoryOutbox extends OutboxStore<MemoryTx>, OutboxBacklog {
  /** Appends the records buffered in `state` (called inside the commit); returns how many. */
  applyCommitted(state: TxState): number;
  /** Appends committed records at once (timers firing); returns how many were new. */
  insert(records: readonly OutboxRecord[]): number;
}

/**
 * The outbox over {@link MemoryDatabase}. Claims follow the port's contract: unpublished records in
 * append order, skipping every key on which another relay holds an unexpired claim of an earlier
 * record, and the keys in `skipKeys`. Leases are measured with `clock`. A record whose id is already in the outbox is ignored
 * (the first one wins). The backlog counts committed, unpublished records (claimed or not).
 */
export function createMemoryOutbox(db: MemoryDatabase, clock: Clock): MemoryOutbox {
  const rows = new Map<string, Row>();
  const pending = new Map<string, Row>();

  function insert(records: readonly OutboxRecord[]): number {
    let appended = 0;
    for (const record of records) {
      if (rows.has(record.id)) continue;
      const row: Row = { record, publishedAt: null, claim: null };
      rows.set(record.id, row);
      pending.set(record.id, row);
      appended++;
    }
    return appended;
  }

  return {
    async append(tx, records) {
      const state = db.stateOf(tx);
      for (const record of records) state.outbox.push(freeze(record));
    },

    applyCommitted(state) {
      return insert(state.outbox);
    },

    insert: (records) => insert(records.map(freeze)),

    async claim({ relayId, limit, leaseMs, skipKeys = [] }) {
      if (!relayId) throw invalid('claim: relayId must be a non-empty string');
      if (!Number.isInteger(limit) || limit < 1) throw invalid(`claim: limit must be a positive integer, got ${limit}`);
      if (!(Number.isFinite(leaseMs) && leaseMs > 0)) throw invalid(`claim: leaseMs must be a positive number, got ${leaseMs}`);
      const now = clock.now();
      const claimed: OutboxRecord[] = [];
      // held back by the relay itself: left alone, as a key another relay holds
      const blocked = new Set<string>(skipKeys);
      for (const row of pending.values()) {
        if (claimed.length >= limit) break;
        const { key } = row.record;
        if (blocked.has(key)) continue;
        if (row.claim && row.claim.relayId !== relayId && row.claim.expiresAt > now) {
          blocked.add(key); // a later record of this key must wait for that relay
          continue;
        }
        row.claim = { relayId, expiresAt: now + leaseMs };
        claimed.push(row.record);
      }
      return claimed;
    },

    // published is published, whoever holds the claim by now
    async markPublished(_relayId, ids) {
      const now = clock.now();
      for (const id of ids) {
        const row = pending.get(id);
        if (!row) continue;
        row.publishedAt = now;
        row.claim = null;
        pending.delete(id);
      }
    },

    async release(relayId, ids) {
      for (const id of ids) {
        const row = pending.get(id);
        if (row?.claim?.relayId === relayId) row.claim = null;
      }
    },

    async backlog() {
      const topics = new Map<string, { pending: number; oldestCreatedAt: number }>();
      for (const { record } of pending.values()) {
        const topic = topics.get(record.topic);
        if (topic) {
          topic.pending++;
          topic.oldestCreatedAt = Math.min(topic.oldestCreatedAt, record.createdAt);
        } else {
          topics.set(record.topic, { pending: 1, oldestCreatedAt: record.createdAt });
        }
      }
      return [...topics]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([topic, { pending: count, oldestCreatedAt }]): TopicBacklog => ({ topic, pending: count, oldestCreatedAt }));
    },

    async findByCorrelation(correlationId) {
      const found: OutboxEntry[] = [];
      for (const row of rows.values()) {
        if (row.record.correlationId === correlationId) found.push({ ...row.record, publishedAt: row.publishedAt });
      }
      return found;
    },
  };
}

function freeze(record: OutboxRecord): OutboxRecord {
  const { id, topic, key, type, correlationId, value, headers, createdAt } = record;
  return Object.freeze({ id, topic, key, type, correlationId, value, headers: Object.freeze({ ...headers }), createdAt });
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, `memory outbox: ${message}`);
}
