// More of the analytics store conformance suite (see conformance.ts, which declares these in its
// block): what a store keeps over time (retention) and what it does once closed.
import { createManualClock, HeraldError } from '@herald/core';
import { expect, it, vi } from 'vitest';
import { MINUTE, T0 } from './conformanceFixtures.js';
import { SWEEP_CHUNK, type AnalyticsRetentionOptions } from './retention.js';
import type { AnalyticsEvent, AnalyticsStore, LateEvent, MetricPoint } from './types.js';

const DAY = 86_400_000;

const event = (eventId: string, userId: string, type: string, occurredAt: number): AnalyticsEvent => ({ eventId, userId, type, occurredAt, properties: {} });
const point = (pointId: string, value: number, occurredAt: number): MetricPoint => ({ pointId, name: 'latency', value, occurredAt, labels: {} });
const late = (eventId: string, windowStart: number): LateEvent => ({ eventId, type: 'click', occurredAt: windowStart + 1, windowStart, windowEnd: windowStart + MINUTE, arrivedAt: windowStart + 10 * MINUTE });

/** `{ code, retriable }` of the error `call` failed with. */
async function refusal(call: Promise<unknown>): Promise<unknown> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  return error instanceof HeraldError ? { code: error.code, retriable: error.retriable } : { error: String(error) };
}

/** How a lifecycle test opens stores: `fresh` (closed by the block), `create` and `reopen` (closed by the test). */
export interface LifecycleStores {
  fresh(options?: AnalyticsRetentionOptions): Promise<AnalyticsStore>;
  create(options?: AnalyticsRetentionOptions): Promise<AnalyticsStore>;
  reopen?(store: AnalyticsStore, options?: AnalyticsRetentionOptions): Promise<AnalyticsStore>;
}

/** Declares the retention and close cases inside the suite's `describe` block. */
export function describeLifecycle(stores: LifecycleStores): void {
  const { fresh } = stores;

  it('keeps each kind for its retention on event time: a sweep deletes the older records, and nothing else', async () => {
    const clock = createManualClock(T0);
    const store = await fresh({ retention: { eventsMs: DAY, metricsMs: 2 * DAY, lateMs: 3 * DAY }, clock, maintenance: false });
    await store.appendEvents([event('old', 'u1', 'click', T0 - DAY - 1), event('edge', 'u1', 'view', T0 - DAY), event('new', 'u2', 'click', T0 - 1)]);
    await store.appendMetrics([point('old', 1, T0 - 2 * DAY - 1), point('edge', 2, T0 - 2 * DAY), point('new', 4, T0 - 1)]);
    await store.appendLate([late('old', T0 - 3 * DAY - MINUTE), late('edge', T0 - 3 * DAY), late('new', T0 - MINUTE)]);
    expect(await store.sweepRetention()).toEqual({ events: 1, metrics: 1, late: 1 });
    expect(await store.user('u1')).toEqual({ events: 1, firstSeen: T0 - DAY, lastSeen: T0 - DAY, byType: { view: 1 } });
    expect(await store.topTypes({ from: 0, to: T0, limit: 10 })).toEqual([{ type: 'click', count: 1 }, { type: 'view', count: 1 }]);
    const summary = await store.metricSummary({ name: 'latency', from: T0 - 3 * DAY, to: T0, windowMs: DAY });
    expect(summary.map((w) => [w.windowStart, w.count, w.min])).toEqual([[T0 - 2 * DAY - (T0 % DAY), 1, 2], [T0 - (T0 % DAY), 1, 4]]);
    expect((await store.late()).map((w) => w.windowStart)).toEqual([T0 - 3 * DAY, T0 - MINUTE]);
    expect(await store.sweepRetention()).toEqual({ events: 0, metrics: 0, late: 0 });
    // a millisecond on, the records at the cutoff are past it
    await clock.advance(1);
    expect(await store.sweepRetention()).toEqual({ events: 1, metrics: 1, late: 1 });
    // an id is remembered while its record is kept: appended again, it is stored, and goes at the next sweep
    expect(await store.appendEvents([event('old', 'u1', 'click', T0 - DAY - 1)])).toBe(1);
    expect(await store.sweepRetention()).toEqual({ events: 1, metrics: 0, late: 0 });
    expect(await store.user('u1')).toBeUndefined();
  });

  it('keeps a kind without a retention for ever, and everything without one', async () => {
    const clock = createManualClock(T0 + 365 * DAY);
    for (const store of [await fresh({ retention: { eventsMs: DAY }, clock, maintenance: false }), await fresh()]) {
      await store.appendEvents([event('e', 'u1', 'click', T0)]);
      await store.appendMetrics([point('p', 1, T0)]);
      await store.appendLate([late('l', T0)]);
      const swept = await store.sweepRetention();
      expect([swept.metrics, swept.late]).toEqual([0, 0]);
      expect(await store.late()).toHaveLength(1);
    }
  });

  it('sweeps by itself every sweepIntervalMs', async () => {
    const store = await fresh({ retention: { eventsMs: DAY }, clock: createManualClock(T0), sweepIntervalMs: 20 });
    await store.appendEvents([event('old', 'u1', 'click', T0 - 2 * DAY), event('new', 'u2', 'click', T0)]);
    await vi.waitFor(async () => expect(await store.user('u1')).toBeUndefined(), { timeout: 10_000, interval: 20 });
    expect(await store.user('u2')).toBeDefined();
  });

  it('refuses a retention or sweep interval that is not a positive whole number of milliseconds, naming it', async () => {
    const refused = (options: AnalyticsRetentionOptions, name: string) => expect(stores.create(options)).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringContaining(name) });
    await refused({ retention: { eventsMs: 0 } }, 'retention.eventsMs');
    await refused({ retention: { metricsMs: 1.5 } }, 'retention.metricsMs');
    await refused({ retention: { lateMs: -DAY } }, 'retention.lateMs');
    await refused({ retention: { eventsMs: DAY }, sweepIntervalMs: 2 ** 31 }, 'sweepIntervalMs');
  });

  it('refuses every call after close() with core\'s `closed`, not retriable; calls made before it are answered; close() is idempotent', async () => {
    const store = await stores.create();
    await store.appendEvents([event('e', 'u1', 'click', T0)]);
    const before = store.user('u1');
    await Promise.all([store.close(), store.close()]);
    expect((await before)?.events).toBe(1);
    await store.close();
    const closed = { code: 'closed', retriable: false };
    const range = { from: T0, to: T0 + MINUTE };
    expect(await refusal(store.appendEvents([event('e2', 'u1', 'click', T0)]))).toEqual(closed);
    expect(await refusal(store.appendMetrics([point('p', 1, T0)]))).toEqual(closed);
    expect(await refusal(store.appendLate([late('l', T0)]))).toEqual(closed);
    expect(await refusal(store.counts({ ...range, windowMs: MINUTE }))).toEqual(closed);
    expect(await refusal(store.user('u1'))).toEqual(closed);
    expect(await refusal(store.topTypes({ ...range, limit: 1 }))).toEqual(closed);
    expect(await refusal(store.metricSummary({ ...range, name: 'latency', windowMs: MINUTE }))).toEqual(closed);
    expect(await refusal(store.late())).toEqual(closed);
    expect(await refusal(store.sweepRetention())).toEqual(closed);
  });

  if (stores.reopen) {
    const reopen = stores.reopen;
    it('sweeps a backlog a chunk per statement: closed during a sweep, it stops after its current chunk, and a later sweep takes the rest', async () => {
      const clock = createManualClock(T0);
      const options = { retention: { eventsMs: DAY }, clock, maintenance: false };
      const total = 2 * SWEEP_CHUNK + 500;
      const store = await stores.create(options);
      await store.appendEvents(Array.from({ length: total }, (_, i) => event(`e${i}`, `u${i % 50}`, 'click', T0 - 2 * DAY + i)));
      const sweeping = store.sweepRetention();
      await store.close();
      expect(await sweeping).toEqual({ events: SWEEP_CHUNK, metrics: 0, late: 0 });
      const again = await reopen(store, options);
      try {
        expect(await again.counts({ from: T0 - 3 * DAY, to: T0, windowMs: DAY })).toEqual([expect.objectContaining({ count: total - SWEEP_CHUNK })]);
        expect(await again.sweepRetention()).toEqual({ events: total - SWEEP_CHUNK, metrics: 0, late: 0 });
        expect(await again.counts({ from: T0 - 3 * DAY, to: T0, windowMs: DAY })).toEqual([]);
      } finally {
        await again.close();
      }
    });
  }
}
