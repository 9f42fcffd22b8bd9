import type { DeadLetter } from '@herald/core';

/** A dead letter row as selected by {@link DEAD_LETTER_COLUMNS}. */
export interface DeadLetterRow {
  id: string;
  group_name: string;
  handler: string;
  event_id: string | null;
  event_type: string | null;
  topic: string;
  partition: number;
  log_offset: string | number;
  key: string;
  reason: string;
  fingerprint: string;
  error: string;
  attempts: number;
  first_failure_at: string | number;
  last_failure_at: string | number;
  envelope: string;
  headers: string;
  policy: DeadLetter['policy'];
  status: DeadLetter['status'];
}

/**
 * The statuses that close a letter. A resolved letter has a `resolved_at` and may be purged after the retention; a `dead`
 * or `parked` one never is.
 */
export const RESOLVED_STATUSES = `('redriven', 'discarded')`;

export const DEAD_LETTER_COLUMNS =
  'id, group_name, handler, event_id, event_type, topic, partition, log_offset, key, reason, fingerprint, error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status';

/** Column values of a letter, in the order of {@link DEAD_LETTER_COLUMNS}. */
export function toValues(letter: DeadLetter): unknown[] {
  return [
    letter.id,
    letter.group,
    letter.handler,
    letter.eventId,
    letter.eventType,
    letter.topic,
    letter.partition,
    letter.offset,
    letter.key,
    letter.reason,
    letter.fingerprint,
    JSON.stringify(letter.error),
    letter.attempts,
    letter.firstFailureAt,
    letter.lastFailureAt,
    letter.envelope,
    JSON.stringify(letter.headers),
    letter.policy,
    letter.status,
  ];
}

export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    group: row.group_name,
    handler: row.handler,
    eventId: row.event_id,
    eventType: row.event_type,
    topic: row.topic,
    partition: Number(row.partition),
    offset: Number(row.log_offset),
    key: row.key,
    reason: row.reason,
    fingerprint: row.fingerprint,
    error: JSON.parse(row.error) as DeadLetter['error'],
    attempts: Number(row.attempts),
    firstFailureAt: Number(row.first_failure_at),
    lastFailureAt: Number(row.last_failure_at),
    envelope: row.envelope,
    headers: JSON.parse(row.headers) as Record<string, string>,
    policy: row.policy,
    status: row.status,
  };
}
