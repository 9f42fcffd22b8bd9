import type { TopicBacklog } from '@herald/core';
import { toNumber } from '@herald/sql';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';

/** A row of {@link countOutboxBacklog}; the aggregates are bigints. */
export interface BacklogRow {
  readonly topic: string;
  readonly pending: number | string;
  readonly oldest_created_at: number | string;
}

/**
 * Per topic with committed, unpublished records (above their slot's watermark): how many, and the
 * append time of the oldest, in topic order (by bytes, as on SQLite and in memory, whatever the
 * database's collation). Records a relay is publishing still count. Only the rows above the
 * watermarks are read, through the relay's own index `outbox_slot`.
 */
export function countOutboxBacklog(t: Tables): Statement {
  return {
    name: `${t.statementPrefix}outbox_backlog`,
    text: `SELECT o.topic, count(*) AS pending, min(o.created_at) AS oldest_created_at
      FROM ${t.outboxSlots} s JOIN ${t.outbox} o ON o.slot = s.slot AND (o.txid, o.seq) > (s.published_txid, s.published_seq) AND o.published_at IS NULL
      GROUP BY o.topic ORDER BY o.topic COLLATE "C"`,
    values: [],
  };
}

export function toTopicBacklog(row: BacklogRow): TopicBacklog {
  return { topic: row.topic, pending: toNumber(row.pending), oldestCreatedAt: toNumber(row.oldest_created_at) };
}
