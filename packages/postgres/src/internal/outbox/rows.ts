import type { OutboxEntry, OutboxRecord } from '@herald/core';

/** An outbox row as selected by the outbox statements. */
export interface OutboxRow {
  seq: string | number;
  id: string;
  topic: string;
  key: string;
  type: string;
  correlation_id: string;
  value: string;
  headers: string;
  created_at: string | number;
  published_at?: string | number | null;
}

/** Columns every outbox read selects, in the order of {@link OutboxRow}. */
export const OUTBOX_COLUMNS = 'seq, id, topic, key, type, correlation_id, value, headers, created_at';

export function toRecord(row: OutboxRow): OutboxRecord {
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    type: row.type,
    correlationId: row.correlation_id,
    value: row.value,
    headers: JSON.parse(row.headers) as Record<string, string>,
    createdAt: Number(row.created_at),
  };
}

export function toEntry(row: OutboxRow): OutboxEntry {
  return { ...toRecord(row), publishedAt: row.published_at === null || row.published_at === undefined ? null : Number(row.published_at) };
}
