import { describe, expect, it } from 'vitest';
import { isHeraldError } from '@herald/core';
import { deadLetterPageQuery, deadLetterWhere, decodeDeadLetterCursor, encodeDeadLetterCursor, pageLimit } from '@herald/sql';

function invalidOptions(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isHeraldError(error) && error.code === 'invalid-options') return error.message;
    throw error;
  }
  throw new Error('expected an invalid-options error');
}

describe('deadLetterWhere', () => {
  it('is empty when nothing narrows', () => {
    expect(deadLetterWhere()).toEqual({ sql: '', params: [] });
    expect(deadLetterWhere({})).toEqual({ sql: '', params: [] });
  });

  it('compares every text field with its column, numbering parameters in order', () => {
    const where = deadLetterWhere({
      group: 'billing',
      handler: 'billing:OrderPlaced',
      topic: 'orders',
      key: 'order-1',
      eventType: 'OrderPlaced',
      reason: 'handler-failed',
      fingerprint: '0123456789abcdef',
    });
    expect(where.sql).toBe(
      'WHERE group_name = $1 AND handler = $2 AND topic = $3 AND key = $4 AND event_type = $5 AND reason = $6 AND fingerprint = $7',
    );
    expect(where.params).toEqual(['billing', 'billing:OrderPlaced', 'orders', 'order-1', 'OrderPlaced', 'handler-failed', '0123456789abcdef']);
  });

  it('keeps the empty fingerprint of letters from before fingerprints as a filter', () => {
    expect(deadLetterWhere({ fingerprint: '' })).toEqual({ sql: 'WHERE fingerprint = $1', params: [''] });
  });

  it('takes one status, several (deduplicated) or none', () => {
    expect(deadLetterWhere({ status: 'dead' })).toEqual({ sql: 'WHERE status = $1', params: ['dead'] });
    expect(deadLetterWhere({ status: ['dead', 'parked', 'dead'] })).toEqual({ sql: 'WHERE status IN ($1, $2)', params: ['dead', 'parked'] });
    expect(deadLetterWhere({ status: ['discarded'] })).toEqual({ sql: 'WHERE status = $1', params: ['discarded'] });
    expect(deadLetterWhere({ group: 'g', status: [] })).toEqual({ sql: 'WHERE group_name = $1 AND 1 = 0', params: ['g'] });
  });

  it('bounds the last failure time: since inclusive, until exclusive', () => {
    expect(deadLetterWhere({ since: 1000, until: 2000 })).toEqual({ sql: 'WHERE last_failure_at >= $1 AND last_failure_at < $2', params: [1000, 2000] });
    expect(deadLetterWhere({ until: 0 })).toEqual({ sql: 'WHERE last_failure_at < $1', params: [0] });
  });

  it('passes time bounds as whole ms in the safe range, which PostgreSQL binds as bigint, meaning the same', () => {
    // stored times are whole: t >= 1000.5 is t >= 1001, t < 2000.25 is t < 2001
    expect(deadLetterWhere({ since: 1000.5, until: 2000.25 }).params).toEqual([1001, 2001]);
    expect(deadLetterWhere({ since: -1.5 }).params).toEqual([-1]);
    expect(deadLetterWhere({ since: 1e20, until: -1e300 }).params).toEqual([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
  });

  it('adds the position after which a page continues, last', () => {
    expect(deadLetterWhere({ reason: 'timeout', status: ['dead', 'parked'] }, { after: 41 })).toEqual({
      sql: 'WHERE reason = $1 AND status IN ($2, $3) AND seq > $4',
      params: ['timeout', 'dead', 'parked', 41],
    });
    expect(deadLetterWhere({}, { after: null })).toEqual({ sql: '', params: [] });
    expect(deadLetterWhere({}, { after: 0 })).toEqual({ sql: 'WHERE seq > $1', params: [0] });
  });

  it('ignores the page fields of a request', () => {
    expect(deadLetterWhere({ group: 'g', cursor: 'x', limit: 5 } as never)).toEqual({ sql: 'WHERE group_name = $1', params: ['g'] });
  });

  it('refuses fields of the wrong type, unknown statuses and times that are not finite', () => {
    expect(invalidOptions(() => deadLetterWhere({ group: 42 } as never))).toMatch(/group must be a string, got 42/);
    expect(invalidOptions(() => deadLetterWhere({ key: null } as never))).toMatch(/key must be a string, got null/);
    expect(invalidOptions(() => deadLetterWhere({ status: 'gone' } as never))).toMatch(/status must be one of dead, parked, redriven, discarded, got "gone"/);
    expect(invalidOptions(() => deadLetterWhere({ status: ['dead', 'Dead'] } as never))).toMatch(/got "Dead"/);
    expect(invalidOptions(() => deadLetterWhere({ since: Number.NaN }))).toMatch(/since must be a time in ms, got NaN/);
    expect(invalidOptions(() => deadLetterWhere({ until: '2026-01-01' } as never))).toMatch(/until must be a time in ms/);
  });
});

describe('dead letter cursors', () => {
  it('round-trip a position, including a PostgreSQL bigint string', () => {
    for (const seq of [0, 1, 41, 2 ** 40, Number.MAX_SAFE_INTEGER]) expect(decodeDeadLetterCursor(encodeDeadLetterCursor(seq))).toBe(seq);
    expect(decodeDeadLetterCursor(encodeDeadLetterCursor('9007199254740991'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeDeadLetterCursor(encodeDeadLetterCursor(7n))).toBe(7);
    expect(encodeDeadLetterCursor(41)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('refuses anything this encoding did not make', () => {
    const valid = encodeDeadLetterCursor(12);
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    for (const cursor of ['', 'not a cursor', '12', `${valid}=`, `${valid}!`, b64('dl1:'), b64('dl1:-1'), b64('dl1:01'), b64('dl1:1.5'), b64('dl2:12'), b64('dl1:12 '), b64('dl1:99999999999999999')]) {
      expect(invalidOptions(() => decodeDeadLetterCursor(cursor)), JSON.stringify(cursor)).toMatch(/is not a cursor of this store/);
    }
    expect(invalidOptions(() => decodeDeadLetterCursor(12 as never))).toMatch(/number is not a cursor/);
  });
});

describe('page requests', () => {
  it('default to 100 letters and accept 1 to 1000', () => {
    expect(pageLimit(undefined)).toBe(100);
    expect(pageLimit(1)).toBe(1);
    expect(pageLimit(1000)).toBe(1000);
    for (const limit of [0, -1, 1001, 2.5, Number.NaN, Infinity, '10']) {
      expect(invalidOptions(() => pageLimit(limit as number)), String(limit)).toMatch(/page limit must be an integer from 1 to 1000/);
    }
  });

  it('combine the query, the cursor and the limit', () => {
    expect(deadLetterPageQuery()).toEqual({ where: { sql: '', params: [] }, limit: 100 });
    expect(deadLetterPageQuery({ group: 'billing', cursor: encodeDeadLetterCursor(7), limit: 20 })).toEqual({
      where: { sql: 'WHERE group_name = $1 AND seq > $2', params: ['billing', 7] },
      limit: 20,
    });
    expect(() => deadLetterPageQuery({ cursor: 'nope' })).toThrow(/not a cursor/);
    expect(() => deadLetterPageQuery({ limit: 0 })).toThrow(/page limit/);
  });
});
