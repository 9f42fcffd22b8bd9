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
 * Per topic with committed, unpublished records: how many, and the append time of the oldest, in
 * topic order (by bytes, as on SQLite and in memory, whatever the database's collation). Claimed
 * records still count: they are not published yet. Only unpublished rows are read, through the
 * partial index `outbox_pending_seq` (the relay's own), so the cost follows the backlog, not the
 * published records retention keeps; no index of its own, which every append and mark would pay for.
 */
export function countOutboxBacklog(t: Tables): Statement {
  return {
    name: `${t.statementPrefix}outbox_backlog`,
    text: `SELECT topic, count(*) AS pending, min(created_at) AS oldest_created_at
      FROM ${t.outbox} WHERE published_at IS NULL
      GROUP BY topic ORDER BY topic COLLATE "C"`,
    values: [],
  };
}

export function toTopicBacklog(row: BacklogRow): TopicBacklog {
  return { topic: row.topic, pending: toNumber(row.pending), oldestCreatedAt: toNumber(row.oldest_created_at) };
}
