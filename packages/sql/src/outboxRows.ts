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
  const values: unknown[] = new Array(OUTBOX_RECORD_WIDTH);
  writeOutboxValues(record, values, 0);
  return values as [string, string, string, string, string, string, string | null, number];
}

/** How many values {@link writeOutboxValues} writes: one per column of {@link OUTBOX_RECORD_COLUMNS}. */
export const OUTBOX_RECORD_WIDTH = 8;

/**
 * {@link outboxValues} written into `target` from index `at`, for a multi-row statement's
 * parameters: no array per record (an append of a thousand records would make a thousand).
 */
export function writeOutboxValues(record: OutboxRecord, target: unknown[], at: number): void {
  target[at] = record.id;
  target[at + 1] = record.topic;
  target[at + 2] = record.key;
  target[at + 3] = record.type;
  target[at + 4] = record.correlationId;
  target[at + 5] = record.value;
  target[at + 6] = headersText(record.headers);
  target[at + 7] = record.createdAt;
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
