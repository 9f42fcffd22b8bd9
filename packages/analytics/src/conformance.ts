// The analytics store conformance suite: what every AnalyticsStore does, run against a real
// database by each implementation's tests (and by anyone writing another one).
import { afterEach, describe, expect, it } from 'vitest';
import { describeEdgeCases } from './conformanceEdges.js';
import { MINUTE, T0, event, late, point } from './conformanceFixtures.js';
import { describeLifecycle } from './conformanceLifecycle.js';
import { describeRefusals } from './conformanceRefusals.js';
import type { AnalyticsRetentionOptions } from './retention.js';
import type { AnalyticsStore } from './types.js';

export interface AnalyticsConformanceOptions {
  readonly name: string;
  /** A fresh, empty store, with `options` (retention, its clock). */
  create(options?: AnalyticsRetentionOptions): Promise<AnalyticsStore>;
  /** Closes `store` and opens the same database again, with `options` (stores that keep data across restarts). */
  reopen?(store: AnalyticsStore, options?: AnalyticsRetentionOptions): Promise<AnalyticsStore>;
}

/** The continuous 95th percentile, computed here independently of any database. */
function p95Of(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = 0.95 * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (position - lower) * (sorted[upper]! - sorted[lower]!);
}

/** Declares the suite as a vitest `describe` block. */
export function describeAnalyticsConformance(options: AnalyticsConformanceOptions): void {
  describe(`analytics store conformance: ${options.name}`, () => {
    const open: AnalyticsStore[] = [];
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
    });
    const fresh = async (settings?: AnalyticsRetentionOptions) => {
      const store = await options.create(settings);
      open.push(store);
      return store;
    };

    it('stores each id once, within a call and across calls, and says how many were new', async () => {
      const store = await fresh();
      expect(await store.appendEvents([event('e1', 'u1', 'click', T0), event('e2', 'u1', 'view', T0 + 1), event('e1', 'u1', 'click', T0)])).toBe(2);
      expect(await store.appendEvents([event('e2', 'u1', 'view', T0 + 1), event('e3', 'u2', 'click', T0 + 2)])).toBe(1);
      expect(await store.appendEvents([])).toBe(0);
      expect(await store.appendMetrics([point('p1', 'latency', 1, T0), point('p1', 'latency', 1, T0)])).toBe(1);
      expect(await store.appendLate([late('l1', 'click', T0), late('l1', 'click', T0)])).toBe(1);
      expect((await store.user('u1'))?.events).toBe(2);
      expect(await store.counts({ from: T0, to: T0 + MINUTE, windowMs: MINUTE })).toEqual([{ windowStart: T0, windowEnd: T0 + MINUTE, count: 3, uniqueUsers: 2 }]);
    });

    it('counts per epoch-aligned window, leaving out empty windows, from inclusive and to exclusive', async () => {
      const store = await fresh();
      await store.appendEvents([
        event('a', 'u1', 'click', T0 - 1), // before the range
        event('b', 'u1', 'click', T0), // first instant of the first window
        event('c', 'u2', 'click', T0 + MINUTE - 1),
        event('d', 'u1', 'view', T0 + 30_000),
        event('e', 'u3', 'click', T0 + 2 * MINUTE + 5), // the second minute is empty
        event('f', 'u3', 'click', T0 + 3 * MINUTE), // at `to`: outside
      ]);
      expect(await store.counts({ from: T0, to: T0 + 3 * MINUTE, windowMs: MINUTE })).toEqual([
        { windowStart: T0, windowEnd: T0 + MINUTE, count: 3, uniqueUsers: 2 },
        { windowStart: T0 + 2 * MINUTE, windowEnd: T0 + 3 * MINUTE, count: 1, uniqueUsers: 1 },
      ]);
      expect(await store.counts({ from: T0, to: T0 + 3 * MINUTE, windowMs: MINUTE, type: 'view' })).toEqual([{ windowStart: T0, windowEnd: T0 + MINUTE, count: 1, uniqueUsers: 1 }]);
      expect(await store.counts({ from: T0 - 5 * MINUTE, to: T0 + 5 * MINUTE, windowMs: 5 * MINUTE })).toEqual([
        { windowStart: T0 - 5 * MINUTE, windowEnd: T0, count: 1, uniqueUsers: 1 },
        { windowStart: T0, windowEnd: T0 + 5 * MINUTE, count: 5, uniqueUsers: 3 },
      ]);
      expect(await store.counts({ from: T0, to: T0, windowMs: MINUTE })).toEqual([]);
    });

    it('aligns windows to the epoch, not to `from`: a window may start before `from`, counting only what lies from `from` on', async () => {
      const store = await fresh();
      const SEVEN = 7 * MINUTE;
      // T0 is 3 minutes past a multiple of 7 minutes: the 7-minute window holding T0 starts at T0 - 3 min
      expect(T0 % SEVEN).toBe(3 * MINUTE);
      await store.appendEvents([
        event('before', 'u1', 'click', T0 + 20_000), // in the window starting at T0, but before `from`
        event('in', 'u2', 'click', T0 + 40_000),
        event('same', 'u2', 'view', T0 + 59_999),
        event('next', 'u3', 'click', T0 + MINUTE + 10_000),
        event('later', 'u1', 'click', T0 + 4 * MINUTE), // the next 7-minute window
      ]);
      const from = T0 + 30_000;
      expect(await store.counts({ from, to: T0 + 2 * MINUTE, windowMs: MINUTE })).toEqual([
        { windowStart: T0, windowEnd: T0 + MINUTE, count: 2, uniqueUsers: 1 },
        { windowStart: T0 + MINUTE, windowEnd: T0 + 2 * MINUTE, count: 1, uniqueUsers: 1 },
      ]);
      expect(await store.counts({ from, to: T0 + 2 * MINUTE, windowMs: MINUTE, type: 'click' })).toEqual([
        { windowStart: T0, windowEnd: T0 + MINUTE, count: 1, uniqueUsers: 1 },
        { windowStart: T0 + MINUTE, windowEnd: T0 + 2 * MINUTE, count: 1, uniqueUsers: 1 },
      ]);
      expect(await store.counts({ from, to: T0 + 10 * MINUTE, windowMs: SEVEN })).toEqual([
        { windowStart: T0 - 3 * MINUTE, windowEnd: T0 + 4 * MINUTE, count: 3, uniqueUsers: 2 },
        { windowStart: T0 + 4 * MINUTE, windowEnd: T0 + 11 * MINUTE, count: 1, uniqueUsers: 1 },
      ]);

      await store.appendMetrics([
        point('before', 'latency', 1000, T0 + 20_000),
        point('in-1', 'latency', 2, T0 + 40_000),
        point('in-2', 'latency', 4, T0 + 50_000),
        point('next', 'latency', 8, T0 + MINUTE + 10_000),
        point('later', 'latency', 16, T0 + 4 * MINUTE),
      ]);
      // [windowStart, values] per window: the same fields the per-window test checks, means and percentiles to 9 digits
      const expectWindows = async (windowMs: number, expected: readonly (readonly [number, readonly number[]])[]) => {
        const windows = await store.metricSummary({ name: 'latency', from, to: T0 + 10 * MINUTE, windowMs });
        expect(windows.map((w) => [w.windowStart, w.windowEnd, w.count, w.min, w.max])).toEqual(
          expected.map(([start, values]) => [start, start + windowMs, values.length, Math.min(...values), Math.max(...values)]),
        );
        for (const [i, [, values]] of expected.entries()) {
          expect(windows[i]!.avg).toBeCloseTo(values.reduce((sum, v) => sum + v, 0) / values.length, 9);
          expect(windows[i]!.p95).toBeCloseTo(p95Of(values), 9);
        }
      };
      await expectWindows(MINUTE, [[T0, [2, 4]], [T0 + MINUTE, [8]], [T0 + 4 * MINUTE, [16]]]);
      await expectWindows(SEVEN, [[T0 - 3 * MINUTE, [2, 4, 8]], [T0 + 4 * MINUTE, [16]]]);
    });

    it('summarises a user across types, and knows nobody it never saw', async () => {
      const store = await fresh();
      await store.appendEvents([event('a', 'u1', 'click', T0 + 5), event('b', 'u1', 'click', T0 - 7), event('c', 'u1', 'buy', T0 + 100, { sku: 's-1' }), event('d', 'u2', 'click', T0)]);
      expect(await store.user('u1')).toEqual({ events: 3, firstSeen: T0 - 7, lastSeen: T0 + 100, byType: { click: 2, buy: 1 } });
      expect(await store.user('nobody')).toBeUndefined();
    });

    it('ranks types by count, ties by name, within the range and the limit', async () => {
      const store = await fresh();
      const types = ['view', 'view', 'view', 'click', 'click', 'buy', 'add', 'add'];
      await store.appendEvents(types.map((type, i) => event(`t${i}`, `u${i}`, type, T0 + i)));
      await store.appendEvents([event('out', 'u9', 'buy', T0 + MINUTE)]);
      expect(await store.topTypes({ from: T0, to: T0 + MINUTE, limit: 3 })).toEqual([
        { type: 'view', count: 3 },
        { type: 'add', count: 2 },
        { type: 'click', count: 2 },
      ]);
      expect(await store.topTypes({ from: T0, to: T0 + 2 * MINUTE, limit: 10 })).toEqual([
        { type: 'view', count: 3 },
        { type: 'add', count: 2 },
        { type: 'buy', count: 2 },
        { type: 'click', count: 2 },
      ]);
    });

    it('summarises a metric per window: count, min, max, mean and the continuous 95th percentile', async () => {
      const store = await fresh();
      let seed = 7;
      const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
      const first = Array.from({ length: 101 }, () => Math.round(random() * 10_000) / 100);
      const second = Array.from({ length: 17 }, () => Math.round(random() * 10_000) / 100);
      await store.appendMetrics([
        ...first.map((value, i) => point(`a${i}`, 'latency', value, T0 + (i % 60) * 1000)),
        ...second.map((value, i) => point(`b${i}`, 'latency', value, T0 + MINUTE + i)),
        point('other', 'cpu', 1000, T0),
      ]);
      const single = [point('s', 'solo', 4.5, T0 + 3 * MINUTE)];
      await store.appendMetrics(single);
      const windows = await store.metricSummary({ name: 'latency', from: T0, to: T0 + 2 * MINUTE, windowMs: MINUTE });
      expect(windows.map((w) => [w.windowStart, w.windowEnd, w.count])).toEqual([
        [T0, T0 + MINUTE, 101],
        [T0 + MINUTE, T0 + 2 * MINUTE, 17],
      ]);
      for (const [w, values] of [[windows[0]!, first], [windows[1]!, second]] as const) {
        expect(w.min).toBe(Math.min(...values));
        expect(w.max).toBe(Math.max(...values));
        expect(w.avg).toBeCloseTo(values.reduce((s, v) => s + v, 0) / values.length, 9);
        expect(w.p95).toBeCloseTo(p95Of(values), 9);
      }
      expect(await store.metricSummary({ name: 'solo', from: T0, to: T0 + 4 * MINUTE, windowMs: MINUTE })).toEqual([
        { windowStart: T0 + 3 * MINUTE, windowEnd: T0 + 4 * MINUTE, count: 1, min: 4.5, max: 4.5, avg: 4.5, p95: 4.5 },
      ]);
      expect(await store.metricSummary({ name: 'missing', from: T0, to: T0 + MINUTE, windowMs: MINUTE })).toEqual([]);
    });

    it('counts late events per type and window, all of them or the windows starting in a range', async () => {
      const store = await fresh();
      await store.appendLate([late('l1', 'click', T0), late('l2', 'click', T0), late('l3', 'view', T0), late('l4', 'click', T0 + MINUTE)]);
      expect(await store.late()).toEqual([
        { type: 'click', windowStart: T0, windowEnd: T0 + MINUTE, count: 2 },
        { type: 'view', windowStart: T0, windowEnd: T0 + MINUTE, count: 1 },
        { type: 'click', windowStart: T0 + MINUTE, windowEnd: T0 + 2 * MINUTE, count: 1 },
      ]);
      expect(await store.late({ from: T0 + MINUTE, to: T0 + 2 * MINUTE })).toEqual([{ type: 'click', windowStart: T0 + MINUTE, windowEnd: T0 + 2 * MINUTE, count: 1 }]);
    });

    describeRefusals(fresh);

    describeEdgeCases(fresh);
    describeLifecycle({ fresh, create: (settings) => options.create(settings), ...(options.reopen ? { reopen: (store, settings) => options.reopen!(store, settings) } : {}) });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps what was appended across a restart', async () => {
        const store = await options.create();
        await store.appendEvents([event('e1', 'u1', 'click', T0)]);
        await store.appendMetrics([point('p1', 'latency', 3, T0)]);
        await store.appendLate([late('l1', 'click', T0)]);
        const again = await reopen(store);
        open.push(again);
        expect(await again.user('u1')).toEqual({ events: 1, firstSeen: T0, lastSeen: T0, byType: { click: 1 } });
        expect((await again.metricSummary({ name: 'latency', from: T0, to: T0 + MINUTE, windowMs: MINUTE }))[0]?.count).toBe(1);
        expect(await again.late()).toHaveLength(1);
        expect(await again.appendEvents([event('e1', 'u1', 'click', T0)])).toBe(0);
      });
    }
  });
}
