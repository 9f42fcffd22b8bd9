import { describe, expect, it } from 'vitest';
import type { DeadLetter, OutboxRecord } from '@herald/core';
import {
  decodeDeadLetterCursor,
  deadLetterRow,
  headersText,
  outboxValues,
  OUTBOX_RECORD_WIDTH,
  writeOutboxValues,
  parseHeaders,
  OUTBOX_RECORD_COLUMNS,
  toDeadLetter,
  toDeadLetterGroup,
  toDeadLetterPage,
  toOutboxEntry,
  toOutboxRecord,
  type DeadLetterPageRow,
} from '@herald/sql';

const letter: DeadLetter = {
  id: '0190a0a0-0000-7000-8000-000000000001',
  group: 'billing',
  handler: 'billing:OrderPlaced',
  eventId: 'e-1',
  eventType: 'OrderPlaced',
  topic: 'orders',
  partition: 3,
  offset: 41,
  key: 'order-1',
  reason: 'handler-failed',
  fingerprint: '0123456789abcdef',
  error: { name: 'Error', message: 'card declined', stack: 'Error: card declined\n    at charge', details: { code: 'declined' } },
  attempts: 5,
  firstFailureAt: 1000,
  lastFailureAt: 2000,
  envelope: '{"id":"e-1"}',
  headers: { 'x-tenant': 'acme' },
  policy: 'park-key',
  status: 'dead',
};

describe('dead letter rows', () => {
  it('round-trip a letter; only resolved letters get a resolution time', () => {
    const row = deadLetterRow(letter, 5000);
    expect(row).toMatchObject({ group_name: 'billing', record_offset: 41, event_type: 'OrderPlaced', headers: '{"x-tenant":"acme"}', resolved_at: null });
    expect(toDeadLetter(row)).toEqual(letter);
    expect(deadLetterRow({ ...letter, status: 'parked' }, 5000).resolved_at).toBeNull();
    expect(deadLetterRow({ ...letter, status: 'redriven' }, 5000).resolved_at).toBe(5000);
    expect(deadLetterRow({ ...letter, status: 'discarded' }, 5000).resolved_at).toBe(5000);
  });

  it('read PostgreSQL bigint strings and its "{}" headers', () => {
    const row = { ...deadLetterRow({ ...letter, headers: {} }, 0), record_offset: '41', first_failure_at: '1000', last_failure_at: '2000', headers: '{}' };
    expect(toDeadLetter(row)).toEqual({ ...letter, headers: {} });
    expect(deadLetterRow({ ...letter, headers: {} }, 0).headers, 'no headers are stored as NULL').toBeNull();
    expect(toDeadLetter({ ...row, headers: null }).headers).toEqual({});
  });

  it('make a page with a next cursor only when an extra row was read', () => {
    const rows: DeadLetterPageRow[] = [1, 2, 3].map((seq) => ({ ...deadLetterRow({ ...letter, id: `id-${seq}` }, 0), seq }));
    const full = toDeadLetterPage(rows, 2);
    expect(full.letters.map((l) => l.id)).toEqual(['id-1', 'id-2']);
    expect(decodeDeadLetterCursor(full.next!)).toBe(2);
    expect(toDeadLetterPage(rows, 3)).toEqual({ letters: rows.map(toDeadLetter), next: null });
    expect(toDeadLetterPage([], 3)).toEqual({ letters: [], next: null });
    expect(decodeDeadLetterCursor(toDeadLetterPage([...rows.slice(0, 1).map((r) => ({ ...r, seq: '77' })), rows[1]!], 1).next!)).toBe(77);
  });

  it('make a group from its row, the sample showing its error message', () => {
    const row = {
      group_name: 'billing',
      handler: 'billing:OrderPlaced',
      fingerprint: 'f',
      reason: 'handler-failed',
      letters: '3',
      first_failure_at: 10,
      last_failure_at: '20',
      sample_id: 'id-9',
      sample_error: JSON.stringify(letter.error),
    };
    expect(toDeadLetterGroup(row)).toEqual({
      group: 'billing',
      handler: 'billing:OrderPlaced',
      fingerprint: 'f',
      reason: 'handler-failed',
      count: 3,
      firstFailureAt: 10,
      lastFailureAt: 20,
      sample: { id: 'id-9', message: 'card declined' },
    });
    expect(toDeadLetterGroup({ ...row, sample_error: '{"name":"Error"}' }).sample.message).toBe('');
  });
});

describe('outbox rows', () => {
  const record: OutboxRecord = { id: 'r-1', topic: 'orders', key: 'o-1', type: 'OrderPlaced', correlationId: 'c-1', value: '{}', headers: {}, createdAt: 1234 };

  it('insert in column order and read back records and entries', () => {
    const values = outboxValues(record);
    const columns = OUTBOX_RECORD_COLUMNS.split(', ');
    expect(values).toHaveLength(columns.length);
    const row = Object.fromEntries(columns.map((column, i) => [column, values[i]])) as never;
    expect(toOutboxRecord(row)).toEqual(record);
    expect(toOutboxEntry({ ...(row as object), published_at: null } as never)).toEqual({ ...record, publishedAt: null });
    expect(toOutboxEntry({ ...(row as object), created_at: '1234', published_at: '5678', headers: '{"a":"b"}' } as never)).toEqual({ ...record, headers: { a: 'b' }, publishedAt: 5678 });
  });

  it('writes the same values into a multi-row statement at any position', () => {
    expect(OUTBOX_RECORD_WIDTH).toBe(OUTBOX_RECORD_COLUMNS.split(', ').length);
    const traced = { ...record, id: 'r-2', headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } };
    const args: unknown[] = ['before'];
    writeOutboxValues(record, args, 1);
    writeOutboxValues(traced, args, 1 + OUTBOX_RECORD_WIDTH);
    expect(args).toEqual(['before', ...outboxValues(record), ...outboxValues(traced)]);
  });
});

describe('headers as stored', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it.each([
    ['a trace context alone', { traceparent }],
    ['a trace context and more', { traceparent, tracestate: 'vendor=x' }],
    ['a traceparent JSON must escape', { traceparent: 'a"b\\c\n' }],
    ['a traceparent with a lone surrogate', { traceparent: 'x\ud800' }],
    ['other headers', { 'X-Username': 'alice', note: 'é' }],
  ])('writes %s as JSON and reads it back', (_, headers) => {
    const text = headersText(headers);
    expect(text).toBe(JSON.stringify(headers));
    expect(parseHeaders(text)).toEqual(JSON.parse(JSON.stringify(headers)));
  });

  it('reads back text that only looks like a trace context alone as the JSON it is', () => {
    const text = '{"traceparent":"x","note":"y"}';
    expect(parseHeaders(text)).toEqual({ traceparent: 'x', note: 'y' });
    expect(parseHeaders('{"traceparent":"a\\"b"}')).toEqual({ traceparent: 'a"b' });
  });

  it('stores no headers as NULL and reads NULL and {} as none', () => {
    expect(headersText(undefined)).toBeNull();
    expect(headersText({})).toBeNull();
    expect(parseHeaders(null)).toEqual({});
    expect(parseHeaders('{}')).toEqual({});
  });
});
