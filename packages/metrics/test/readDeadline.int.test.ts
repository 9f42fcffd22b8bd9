import { createManualClock, MAX_TIMER_MS, type Broker } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { createMetrics, sumSamples } from '../src/index.js';
import { eventually, testApp } from './support/app.js';
import { scrape } from './support/running.js';

describe('a read of the read side that never ends', () => {
  it('fails at its deadline without holding up readiness or the other reads, and is not started again while it hangs', async () => {
    const clock = createManualClock(0);
    const fixture = testApp({ clock, relay: false });
    // the outbox table is locked by a migration nobody finishes, or the database is cut off
    // without a reset: the backlog query never answers
    let outboxReads = 0;
    const outbox = { backlog: () => (outboxReads++, new Promise<never>(() => {})) };
    // the dead letters answer at once (the memory stores answer on the manual clock)
    let deadLetterReads = 0;
    const deadLetters = { ...fixture.stores.deadLetters, page: async () => ({ letters: [] }), count: async () => 0, discard: async () => 0, groups: async () => (deadLetterReads++, []) };
    // lag comes from facts: the broker is not inspected
    const app = { ...fixture.app, broker: {} as Broker, stores: { ...fixture.stores, outbox, deadLetters } };
    const metrics = createMetrics({ app, pollIntervalMs: 1_000, readTimeoutMs: 5_000 });
    let ready = false;
    await metrics.start(new AbortController().signal);
    void metrics.ready?.().then(() => (ready = true));
    await eventually(() => deadLetterReads === 2, 'the first read of the dead letters (dead and parked)');
    // only the outbox read's deadline is left: the dead letters' read is over
    await eventually(() => clock.pending() === 1, 'the dead letters read');

    // at the deadline the read counts as failed, and the app's readiness does not wait on it
    await clock.advance(5_000);
    await eventually(() => ready, 'ready() after the first read, its hung source failed', 2_000);
    expect(sumSamples(await scrape(metrics), 'herald_metrics_read_errors_total', { source: 'outbox' })).toBe(1);

    // the next reads come at the interval: the dead letters are read again, the outbox waits on
    // the read still running (not a second query on a pool of a few connections) and fails again
    await eventually(() => clock.pending() >= 1, 'the metrics waiting for their next read');
    await clock.advance(1_000);
    await eventually(() => deadLetterReads === 4, 'the second read of the dead letters', 2_000);
    await eventually(() => clock.pending() === 1, 'the second read of the dead letters over');
    await clock.advance(5_000);
    await eventually(async () => sumSamples(await scrape(metrics), 'herald_metrics_read_errors_total', { source: 'outbox' }) === 2, 'the second failure counted', 2_000);
    expect(outboxReads).toBe(1);
    // closed while it waits on the hung read again: no deadline is left behind
    await eventually(() => clock.pending() >= 1, 'the metrics waiting for their next read');
    await clock.advance(1_000);
    await eventually(() => deadLetterReads === 6, 'the third read');
    const closed = metrics.close({ deadlineMs: 0 });
    await clock.advance(0);
    await closed;
    expect(clock.pending()).toBe(0);
  });

  it('takes the result of a read that ends after its deadline at the next read, without starting another', async () => {
    const clock = createManualClock(0);
    const fixture = testApp({ clock, relay: false });
    let release: (() => void) | undefined;
    let outboxReads = 0;
    const outbox = {
      backlog: async () => {
        outboxReads++;
        // the first read waits for a lock; the lock goes at last, and it answers
        if (outboxReads === 1) await new Promise<void>((resolve) => (release = resolve));
        return [{ topic: 'orders', pending: 3, oldestCreatedAt: 0 }];
      },
    };
    const app = { ...fixture.app, broker: {} as Broker, stores: { ...fixture.stores, outbox, deadLetters: {} as typeof fixture.stores.deadLetters } };
    const metrics = createMetrics({ app, pollIntervalMs: 1_000, readTimeoutMs: 5_000 });
    await metrics.start(new AbortController().signal);
    let ready = false;
    void metrics.ready?.().then(() => (ready = true));
    await eventually(() => release !== undefined, 'the first read of the outbox waiting');
    await clock.advance(5_000);
    await eventually(() => ready, 'ready() after the first read, its slow source failed', 2_000);
    expect(sumSamples(await scrape(metrics), 'herald_outbox_pending', { topic: 'orders' })).toBe(0);
    await eventually(() => clock.pending() >= 1, 'the metrics waiting for their next read');
    release!();
    await clock.advance(1_000);
    await eventually(async () => sumSamples(await scrape(metrics), 'herald_outbox_pending', { topic: 'orders' }) === 3, 'the late answer shown', 2_000);
    expect(outboxReads).toBe(1);
    expect(sumSamples(await scrape(metrics), 'herald_metrics_read_errors_total', { source: 'outbox' })).toBe(1);
    await metrics.close({ deadlineMs: 0 });
  });

  it('refuses a readTimeoutMs that is not a positive number a timer can wait', () => {
    const { app } = testApp({ relay: false });
    for (const readTimeoutMs of [0, -1, Number.NaN, Infinity, MAX_TIMER_MS + 1]) {
      expect(() => createMetrics({ app, readTimeoutMs })).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('readTimeoutMs') }));
    }
  });
});
