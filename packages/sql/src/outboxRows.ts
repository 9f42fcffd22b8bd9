import type { OutboxEntry, OutboxRecord } from '@herald/core';
import { headersText, parseHeaders } from './headers.js';
import { toNumber, toNumberOrNull } from './integers.js';

/**
 * An outbox row, with the column names both engines use. On PostgreSQL `headers` is `NOT NULL`
 * (`'{}'` for none) and the `bigint` columns (`seq`, times) arrive as strings; the mapping accepts both.
 */
export interface OutboxRow {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly type: string;
  readonly correlation_id: string;
  readonly value: string;
  readonly headers: string | null;
  readonly created_at: number | string;
  /** Selected by entry reads only. */
  readonly published_at?: number | string | null;
}

/** The columns {@link toOutboxRecord} reads. */
export const OUTBOX_RECORD_COLUMNS = 'id, topic, key, type, correlation_id, value, headers, created_at';

/** The columns {@link toOutboxEntry} reads. */
export const OUTBOX_ENTRY_COLUMNS = `${OUTBOX_RECORD_COLUMNS}, published_at`;

/** Column values to insert a record, in {@link OUTBOX_RECORD_COLUMNS} order. */
export function outboxValues(record: OutboxRecord): [string, string, string, string, string, string, string | null, number] {
  return [record.id, record.topic, record.key, record.type, record.correlationId, record.value, headersText(record.headers), record.createdAt];
}

export function toOutboxRecord(row: OutboxRow): OutboxRecord {
  return {
    id: row.id,
    topic: row.topic,
    key: row.key,
    type: row.type,
    correlationId: row.correlation_id,
    value: row.value,
    headers: parseHeaders(row.headers),
    createdAt: toNumber(row.created_at),
  };
}

export function toOutboxEntry(row: OutboxRow): OutboxEntry {
  return { ...toOutboxRecord(row), publishedAt: toNumberOrNull(row.published_at) };
}
