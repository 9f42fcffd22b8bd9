// More of the analytics store conformance suite (see conformance.ts, which declares these in its
// block): the edges where engines used to answer differently.
import { HeraldError } from '@herald/core';
import { expect, it } from 'vitest';
import { MINUTE, T0 } from './conformanceFixtures.js';
import type { AnalyticsStore, MetricPoint } from './types.js';
import { MAX_METRIC_VALUE } from './validate.js';


const point = (pointId: string, name: string, value: number, occurredAt: number): MetricPoint => ({ pointId, name, value, occurredAt, labels: {} });

/** Whether `actual` is `expected` to 12 significant digits (a sum's rounding may differ by engine). */
const near = (actual: number, expected: number) => Math.abs(actual - expected) <= Math.abs(expected) * 1e-12;

/** Declares the edge cases inside the suite's `describe` block; `fresh` opens a store the block closes. */
export function describeEdgeCases(fresh: () => Promise<AnalyticsStore>): void {
  it(`refuses a metric value beyond ±${MAX_METRIC_VALUE} as an invalid record naming its index, storing nothing of that append`, async () => {
    const store = await fresh();
    for (const value of [1e308, -1.7e308, MAX_METRIC_VALUE * (1 + 2 ** -52)]) {
      const error = await store.appendMetrics([point('ok', 'big', 1, T0), point('far', 'big', value, T0)]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HeraldError);
      expect(error).toMatchObject({ code: 'analytics-invalid-record', retriable: false, details: { index: 1 } });
      expect((error as Error).message).toContain('value must be within');
    }
    expect(await store.metricSummary({ name: 'big', from: T0, to: T0 + MINUTE, windowMs: MINUTE })).toEqual([]);
  });

  it('summarises samples at the bound alike on every engine: no overflow, an answer for every window', async () => {
    const store = await fresh();
    // a window of 1 000 samples at +bound; one of 600 at +bound and 400 at -bound (a spread of twice the bound)
    const high = Array.from({ length: 1_000 }, (_, i) => point(`h${i}`, 'big', MAX_METRIC_VALUE, T0 + i));
    const mixed = Array.from({ length: 1_000 }, (_, i) => point(`m${i}`, 'big', i % 5 < 2 ? -MAX_METRIC_VALUE : MAX_METRIC_VALUE, T0 + MINUTE + i));
    expect(await store.appendMetrics([...high, ...mixed])).toBe(2_000);
    const windows = await store.metricSummary({ name: 'big', from: T0, to: T0 + 2 * MINUTE, windowMs: MINUTE });
    expect(windows.map((w) => [w.windowStart, w.count, w.min, w.max, w.p95])).toEqual([
      [T0, 1_000, MAX_METRIC_VALUE, MAX_METRIC_VALUE, MAX_METRIC_VALUE],
      [T0 + MINUTE, 1_000, -MAX_METRIC_VALUE, MAX_METRIC_VALUE, MAX_METRIC_VALUE],
    ]);
    expect(near(windows[0]!.avg, MAX_METRIC_VALUE)).toBe(true);
    expect(near(windows[1]!.avg, MAX_METRIC_VALUE / 5)).toBe(true);
    // the p95 between two ranks of opposite signs is interpolated, not lost to an overflow
    await store.appendMetrics([point('a', 'pair', -MAX_METRIC_VALUE, T0), point('b', 'pair', MAX_METRIC_VALUE, T0 + 1)]);
    const [pair] = await store.metricSummary({ name: 'pair', from: T0, to: T0 + MINUTE, windowMs: MINUTE });
    expect(pair).toMatchObject({ count: 2, min: -MAX_METRIC_VALUE, max: MAX_METRIC_VALUE });
    expect(pair!.avg).toBe(0);
    expect(near(pair!.p95, 0.9 * MAX_METRIC_VALUE)).toBe(true);
  });

  it("stores a session's late record, whose window is its own session [t, t] (bounds inclusive), and refuses a window ending before it starts", async () => {
    const store = await fresh();
    // what a session aggregation's late side output carries: the record's own, closed session
    const session = { eventId: 's1', type: 'click', occurredAt: T0 + 5, windowStart: T0 + 5, windowEnd: T0 + 5, arrivedAt: T0 + MINUTE };
    expect(await store.appendLate([session])).toBe(1);
    expect(await store.late()).toEqual([{ type: 'click', windowStart: T0 + 5, windowEnd: T0 + 5, count: 1 }]);
    expect(await store.late({ from: T0, to: T0 + MINUTE })).toEqual([{ type: 'click', windowStart: T0 + 5, windowEnd: T0 + 5, count: 1 }]);
    const error = await store.appendLate([{ ...session, eventId: 's2', windowEnd: T0 + 4 }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'analytics-invalid-record', retriable: false, details: { index: 0, field: 'windowEnd must not be before windowStart' } });
    expect(await store.late()).toHaveLength(1);
  });

  it("counts a user's events of types named like Object.prototype's properties (`__proto__`, `constructor`)", async () => {
    const store = await fresh();
    const types = ['__proto__', 'constructor', 'toString', 'click'];
    await store.appendEvents(types.map((type, i) => ({ eventId: `e${i}`, userId: 'u1', type, occurredAt: T0 + i, properties: {} })));
    const summary = await store.user('u1');
    expect(summary?.events).toBe(4);
    expect(Object.entries(summary!.byType).sort(([a], [b]) => (a < b ? -1 : 1))).toEqual(types.map((type) => [type, 1]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
    expect(JSON.parse(JSON.stringify(summary!.byType))).toEqual(JSON.parse('{"__proto__":1,"constructor":1,"toString":1,"click":1}'));
  });
}
