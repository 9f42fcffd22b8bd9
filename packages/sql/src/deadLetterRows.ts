import type { DeadLetter, DeadLetterStatus } from '@herald/core';
import { headersText, parseHeaders } from './headers.js';
import { toNumber } from './integers.js';

/**
 * A dead letter row, with the column names both engines' tables use. On PostgreSQL `headers` is
 * `NOT NULL` (`'{}'` for none) and `bigint` columns (times, offset, `seq`) may arrive as strings;
 * {@link toDeadLetter} accepts both.
 */
export interface DeadLetterRow {
  readonly id: string;
  readonly group_name: string;
  readonly handler: string;
  readonly event_id: string | null;
  readonly event_type: string | null;
  readonly topic: string;
  readonly partition: number;
  readonly record_offset: number | string;
  readonly key: string;
  readonly reason: string;
  readonly fingerprint: string;
  /** The letter's `error` as JSON text. */
  readonly error: string;
  readonly attempts: number;
  readonly first_failure_at: number | string;
  readonly last_failure_at: number | string;
  readonly envelope: string;
  readonly headers: string | null;
  readonly policy: DeadLetter['policy'];
  readonly status: DeadLetterStatus;
}

/** What a write stores: the row plus when the letter was resolved (redriven or discarded), for retention. */
export interface DeadLetterWrite extends DeadLetterRow {
  readonly resolved_at: number | null;
}

/** The columns {@link toDeadLetter} reads, in {@link DeadLetterRow} order. */
export const DEAD_LETTER_COLUMNS =
  'id, group_name, handler, event_id, event_type, topic, partition, record_offset, key, reason, fingerprint, error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status';

/** The row a letter is stored as, `now` being the time of the write (the resolution time of a resolved letter). */
export function deadLetterRow(letter: DeadLetter, now: number): DeadLetterWrite {
  return {
    id: letter.id,
    group_name: letter.group,
    handler: letter.handler,
    event_id: letter.eventId,
    event_type: letter.eventType,
    topic: letter.topic,
    partition: letter.partition,
    record_offset: letter.offset,
    key: letter.key,
    reason: letter.reason,
    fingerprint: letter.fingerprint,
    error: JSON.stringify(letter.error),
    attempts: letter.attempts,
    first_failure_at: letter.firstFailureAt,
    last_failure_at: letter.lastFailureAt,
    envelope: letter.envelope,
    headers: headersText(letter.headers),
    policy: letter.policy,
    status: letter.status,
    resolved_at: resolvedAt(letter.status, now),
  };
}

/** The letter a row holds. */
export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    group: row.group_name,
    handler: row.handler,
    eventId: row.event_id,
    eventType: row.event_type,
    topic: row.topic,
    partition: toNumber(row.partition),
    offset: toNumber(row.record_offset),
    key: row.key,
    reason: row.reason,
    fingerprint: row.fingerprint,
    error: JSON.parse(row.error) as DeadLetter['error'],
    attempts: toNumber(row.attempts),
    firstFailureAt: toNumber(row.first_failure_at),
    lastFailureAt: toNumber(row.last_failure_at),
    envelope: row.envelope,
    headers: parseHeaders(row.headers),
    policy: row.policy,
    status: row.status,
  };
}

/** Redriven and discarded letters are resolved: retention deletes them some time after this; others are not. */
export function resolvedAt(status: DeadLetterStatus, now: number): number | null {
  return status === 'redriven' || status === 'discarded' ? now : null;
}

