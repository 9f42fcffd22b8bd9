import { createManualClock, type SagaRecord } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { createMetrics, sumSamples } from '../src/index.js';
import { testApp } from './support/app.js';
import { scrape } from './support/running.js';

// The saga census (`hasSagaCensus(stores.sagas)`): the instances in flight per saga and status,
// and the age of the oldest, read from the stores on the read side's interval.

describe('createMetrics and the saga census', () => {
  it('reads the saga instances in flight per saga and status, and the age of the oldest, on the injected clock', async () => {
    const clock = createManualClock(1_000_000);
    const fixture = testApp({ clock, relay: false });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 0 });
    const saga = (name: string, instanceId: string, status: string, version = 1): SagaRecord => ({ saga: name, instanceId, status, version, state: {}, createdAt: clock.now(), updatedAt: clock.now() });
    const save = (...records: SagaRecord[]) => fixture.stores.transaction(async (tx) => void (await Promise.all(records.map((r) => fixture.stores.sagas.save(tx, r)))));
    const inFlight = async () => {
      const s = await scrape(metrics);
      const series = (name: string) => s.filter((x) => x.name === name).map((x) => `${x.labels['saga']} ${x.labels['status']} ${x.value}`).sort();
      return { count: series('herald_sagas_in_flight'), age: series('herald_saga_oldest_in_flight_age_seconds') };
    };
    await metrics.poll();
    expect(await inFlight(), 'no saga seen yet: no series').toEqual({ count: [], age: [] });

    const o1 = saga('order', 'o-1', 'running');
    await save(o1, saga('order', 'o-done', 'completed'), saga('booking', 'b-early', 'awaiting-start'));
    await clock.advance(4_000);
    await save(saga('order', 'o-2', 'running'));
    await metrics.poll();
    await clock.advance(1_500); // no read; the ages still grow, computed at scrape
    expect(await inFlight()).toEqual({
      count: ['booking awaiting-start 1', 'booking running 0', 'order awaiting-start 0', 'order running 2'],
      age: ['booking awaiting-start 5.5', 'booking running 0', 'order awaiting-start 0', 'order running 5.5'],
    });

    // o-1 ends: the oldest running is o-2; then the last ends: its saga stays, at 0
    await save({ ...o1, status: 'completed', version: 2 });
    await metrics.poll();
    expect((await inFlight()).age).toContain('order running 1.5');
    await save({ ...saga('order', 'o-2', 'failed', 2) });
    await metrics.poll();
    expect(await inFlight()).toEqual({
      count: ['booking awaiting-start 1', 'booking running 0', 'order awaiting-start 0', 'order running 0'],
      age: ['booking awaiting-start 5.5', 'booking running 0', 'order awaiting-start 0', 'order running 0'],
    });
    await metrics.close({ deadlineMs: 0 });
  });

  it('shows a saga this process runs at 0 from its first transition, though no read found an instance in flight', async () => {
    const fixture = testApp({ relay: false });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 0 });
    await metrics.poll();
    fixture.app.instrumentation.emit({ kind: 'saga', saga: 'order', transition: 'completed', durationMs: 10 });
    const s = await scrape(metrics);
    expect(s.filter((x) => x.name === 'herald_sagas_in_flight').map((x) => `${x.labels['saga']} ${x.labels['status']} ${x.value}`).sort()).toEqual(['order awaiting-start 0', 'order running 0']);
    expect(sumSamples(s, 'herald_saga_oldest_in_flight_age_seconds', { saga: 'order' })).toBe(0);
    await metrics.close({ deadlineMs: 0 });
  });

  it('counts a failing census as a read error of source sagas, keeping the gauges; stores without one have no such source', async () => {
    const fixture = testApp({ relay: false });
    let broken = false;
    const sagas = { ...fixture.stores.sagas, inFlight: async () => (broken ? Promise.reject(new Error('disk on fire')) : fixture.stores.sagas.inFlight()) };
    const metrics = createMetrics({ app: { ...fixture.app, stores: { ...fixture.stores, sagas } }, pollIntervalMs: 0 });
    await fixture.stores.transaction((tx) => fixture.stores.sagas.save(tx, { saga: 'order', instanceId: 'o-1', status: 'running', version: 1, state: {}, createdAt: 1, updatedAt: 1 }));
    await metrics.poll();
    broken = true;
    await metrics.poll();
    const s = await scrape(metrics);
    expect(sumSamples(s, 'herald_metrics_read_errors_total', { source: 'sagas' })).toBe(1);
    expect(sumSamples(s, 'herald_sagas_in_flight', { saga: 'order', status: 'running' })).toBe(1);
    await metrics.close({ deadlineMs: 0 });

    const { inFlight: _, ...plain } = fixture.stores.sagas;
    const without = createMetrics({ app: { ...fixture.app, stores: { ...fixture.stores, sagas: plain } }, pollIntervalMs: 0 });
    await without.poll();
    const w = await scrape(without);
    expect(w.filter((x) => x.name === 'herald_metrics_read_errors_total').map((x) => x.labels['source'])).not.toContain('sagas');
    expect(w.some((x) => x.name === 'herald_sagas_in_flight')).toBe(false);
    await without.close({ deadlineMs: 0 });
  });
});
