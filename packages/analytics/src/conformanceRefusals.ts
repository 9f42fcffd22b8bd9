// More of the analytics store conformance suite (see conformance.ts, which declares these in its
// block): what every store refuses, records and queries, and what it keeps of the text it is given.
import { HeraldError } from '@herald/core';
import { expect, it } from 'vitest';
import { MINUTE, T0, codeOf, event, late, point } from './conformanceFixtures.js';
import type { AnalyticsStore } from './types.js';

/** Declares the refusals inside the suite's `describe` block; `fresh` opens a store the block closes. */
export function describeRefusals(fresh: () => Promise<AnalyticsStore>): void {
  it('refuses an invalid record with its index and field, storing nothing of that append', async () => {
    const store = await fresh();
    const good = event('g1', 'u1', 'click', T0);
    expect(await codeOf(store.appendEvents([good, event('', 'u1', 'click', T0)]))).toBe('analytics-invalid-record');
    expect(await codeOf(store.appendEvents([good, event('g2', 'u1', 'click', 1.5)]))).toBe('analytics-invalid-record');
    expect(await codeOf(store.appendEvents([good, event('g3', 'u1', 'click', -1)]))).toBe('analytics-invalid-record');
    expect(await codeOf(store.appendEvents([good, { ...event('g4', 'u1', 'click', T0), properties: null as never }]))).toBe('analytics-invalid-record');
    expect(await codeOf(store.appendMetrics([point('m1', 'x', Number.NaN, T0)]))).toBe('analytics-invalid-record');
    expect(await codeOf(store.appendLate([{ ...late('l1', 'click', T0), windowEnd: T0 - 1 }]))).toBe('analytics-invalid-record');
    const refused = await store.appendEvents([good, event('g5', '', 'click', T0)]).catch((error: unknown) => error);
    expect((refused as HeraldError).details).toEqual({ index: 1, field: 'userId must be a non-empty string' });
    expect(await store.user('u1')).toBeUndefined();
    expect(await store.appendMetrics([point('m2', 'x', 1, T0)])).toBe(1);
  });

  // U+0000: PostgreSQL's text and jsonb cannot hold it. A lone surrogate (half an emoji pair) is
  // no Unicode text: jsonb refuses it, DuckDB and the pg driver turn it into U+FFFD (two users one)
  for (const [what, bad] of [
    ['U+0000 (NUL)', '\u0000'],
    ['a lone high surrogate', '\ud83d'],
    ['a lone low surrogate', '\ude00'],
  ] as const) {
    it(`refuses ${what} in an id, a name or a JSON key or string as an invalid record naming its index, storing nothing of that append`, async () => {
      const store = await fresh();
      const good = event('g1', 'u1', 'click', T0);
      const refusedAt = async (append: Promise<unknown>) => {
        const error = await append.then(() => undefined, (e: unknown) => e);
        return error instanceof HeraldError ? { code: error.code, retriable: error.retriable, index: error.details?.['index'] } : { error: String(error) };
      };
      const refused = { code: 'analytics-invalid-record', retriable: false, index: 1 };
      expect(await refusedAt(store.appendEvents([good, event(`e${bad}1`, 'u1', 'click', T0)]))).toEqual(refused);
      expect(await refusedAt(store.appendEvents([good, event('e2', `u${bad}1`, 'click', T0)]))).toEqual(refused);
      expect(await refusedAt(store.appendEvents([good, event('e3', 'u1', `cl${bad}ick`, T0)]))).toEqual(refused);
      expect(await refusedAt(store.appendEvents([good, event('e4', 'u1', 'click', T0, { sku: `s${bad}1` })]))).toEqual(refused);
      expect(await refusedAt(store.appendEvents([good, event('e5', 'u1', 'click', T0, { nested: [{ [`k${bad}`]: 1 }] })]))).toEqual(refused);
      expect(await refusedAt(store.appendMetrics([point('m0', 'x', 1, T0), point('m1', `x${bad}`, 1, T0)]))).toEqual(refused);
      expect(await refusedAt(store.appendMetrics([point('m0', 'x', 1, T0), { ...point('m2', 'x', 1, T0), labels: { host: `a${bad}` } }]))).toEqual(refused);
      expect(await refusedAt(store.appendLate([late('l0', 'click', T0), late('l1', `cl${bad}ick`, T0)]))).toEqual(refused);
      expect(await store.user('u1')).toBeUndefined();
      expect(await store.metricSummary({ name: 'x', from: T0, to: T0 + MINUTE, windowMs: MINUTE })).toEqual([]);
      expect(await store.late()).toEqual([]);
      expect(await store.appendEvents([good])).toBe(1);
    });
  }

  it('keeps text outside the Basic Multilingual Plane (a surrogate pair) as it was given', async () => {
    const store = await fresh();
    const smile = 'caf\ud83d\ude00';
    const frown = 'caf\ud83d\ude1e';
    await store.appendEvents([event(`e-${smile}`, smile, 'click', T0, { [smile]: frown }), event(`e-${frown}`, frown, 'click', T0 + 1)]);
    expect(await store.counts({ from: T0, to: T0 + MINUTE, windowMs: MINUTE })).toEqual([{ windowStart: T0, windowEnd: T0 + MINUTE, count: 2, uniqueUsers: 2 }]);
    expect(await store.user(smile)).toEqual({ events: 1, firstSeen: T0, lastSeen: T0, byType: { click: 1 } });
    expect(await store.user('caf\ufffd')).toBeUndefined();
  });

  it('refuses properties or labels JSON cannot write (a BigInt, a cycle) as an invalid record; the next append stores only its own records', async () => {
    const store = await fresh();
    const cycle: Record<string, unknown> = { sku: 's-1' };
    cycle['self'] = cycle;
    const good = event('g1', 'u1', 'click', T0);
    expect(await codeOf(store.appendEvents([good, event('b1', 'u1', 'click', T0, { amount: 10n })]))).toBe('analytics-invalid-record');
    expect(await codeOf(store.appendEvents([good, event('b2', 'u1', 'click', T0, cycle)]))).toBe('analytics-invalid-record');
    expect(await codeOf(store.appendMetrics([point('m0', 'x', 1, T0), { ...point('m1', 'x', 1, T0), labels: { host: 1n as never } }]))).toBe('analytics-invalid-record');
    expect(await store.appendEvents([event('n1', 'u2', 'view', T0)])).toBe(1);
    expect(await store.appendMetrics([point('n2', 'y', 2, T0)])).toBe(1);
    expect(await store.user('u1')).toBeUndefined();
    expect(await store.counts({ from: T0, to: T0 + MINUTE, windowMs: MINUTE })).toEqual([{ windowStart: T0, windowEnd: T0 + MINUTE, count: 1, uniqueUsers: 1 }]);
    expect(await store.metricSummary({ name: 'x', from: T0, to: T0 + MINUTE, windowMs: MINUTE })).toEqual([]);
  });

  it('refuses a query with a bad range, window, limit or name', async () => {
    const store = await fresh();
    const code = 'analytics-invalid-query';
    expect(await codeOf(store.counts({ from: T0 + 1, to: T0, windowMs: MINUTE }))).toBe(code);
    expect(await codeOf(store.counts({ from: T0, to: T0 + MINUTE, windowMs: 0 }))).toBe(code);
    expect(await codeOf(store.counts({ from: T0, to: T0 + MINUTE, windowMs: 2.5 }))).toBe(code);
    expect(await codeOf(store.counts({ from: 0, to: T0, windowMs: 1 }))).toBe(code); // billions of windows
    expect(await codeOf(store.counts({ from: T0, to: T0 + MINUTE, windowMs: MINUTE, type: '' }))).toBe(code);
    expect(await codeOf(store.topTypes({ from: T0, to: T0 + MINUTE, limit: 0 }))).toBe(code);
    expect(await codeOf(store.topTypes({ from: T0, to: T0 + MINUTE, limit: 1001 }))).toBe(code);
    expect(await codeOf(store.metricSummary({ name: '', from: T0, to: T0 + MINUTE, windowMs: MINUTE }))).toBe(code);
    expect(await codeOf(store.late({ from: Number.NaN, to: T0 }))).toBe(code);
    // U+0000, which no record holds (PostgreSQL cannot even compare with it): refused alike everywhere
    expect(await codeOf(store.user('u\u0000'))).toBe(code);
    expect(await codeOf(store.user(''))).toBe(code);
    expect(await codeOf(store.counts({ from: T0, to: T0 + MINUTE, windowMs: MINUTE, type: 'cl\u0000ick' }))).toBe(code);
    expect(await codeOf(store.metricSummary({ name: 'x\u0000', from: T0, to: T0 + MINUTE, windowMs: MINUTE }))).toBe(code);
    // a lone surrogate, which no record holds either (the pg driver and DuckDB would look up U+FFFD)
    expect(await codeOf(store.user('u\ud800'))).toBe(code);
    expect(await codeOf(store.counts({ from: T0, to: T0 + MINUTE, windowMs: MINUTE, type: 'cl\udc00ick' }))).toBe(code);
    expect(await codeOf(store.metricSummary({ name: 'x\udbff', from: T0, to: T0 + MINUTE, windowMs: MINUTE }))).toBe(code);
  });
}
