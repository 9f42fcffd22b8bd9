import { createManualClock, jsonLogger } from '@herald/core';
import { Gauge, Registry, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics, MetricsErrorCodes, parseExposition, sumSamples } from '../src/index.js';
import { eventually, OrderPlaced, testApp } from './support/app.js';
import { scrape } from './support/running.js';

describe('createMetrics, its registry and its lifecycle', () => {
  it('gives every app a registry of its own, and refuses a registry that already has Herald metrics', async () => {
    const one = testApp({ relay: false });
    const two = testApp({ relay: false });
    const registry = new Registry();
    const first = createMetrics({ app: one.app, registry, processMetrics: false });
    const second = createMetrics({ app: two.app });
    await one.app.publish(OrderPlaced, { orderId: 'o-1' });
    expect(sumSamples(await scrape(first), 'herald_events_published_total')).toBe(1);
    expect(sumSamples(await scrape(second), 'herald_events_published_total')).toBe(0);
    expect((await first.scrape()).body).not.toContain('process_cpu');
    expect(first.registry).toBe(registry);
    expect(() => createMetrics({ app: two.app, registry })).toThrow(expect.objectContaining({ code: MetricsErrorCodes.registryConflict }));
    for (const m of [first, second]) await m.close({ deadlineMs: 0 });
  });

  it('refuses an OpenMetrics registry (its # EOF would end the scrape before the process metrics)', () => {
    const { app } = testApp({ relay: false });
    const openMetrics = new Registry<OpenMetricsContentType>();
    openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    // the option's type already refuses it: a cast or a JavaScript caller gets past that
    expect(() => createMetrics({ app, registry: openMetrics as unknown as Registry })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining('application/openmetrics-text') }),
    );
  });

  it('declares each process metric once when the registry already collects some itself', async () => {
    const { app } = testApp({ relay: false });
    const registry = new Registry();
    // what collectDefaultMetrics({ register: registry }) registers, without starting its collectors here
    new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', registers: [registry] }).set(42);
    const metrics = createMetrics({ app, registry });
    const { body } = await metrics.scrape();
    const declared = [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    expect(declared.filter((name, i) => declared.indexOf(name) !== i)).toEqual([]);
    expect(parseExposition(body).filter((x) => x.name === 'process_resident_memory_bytes')).toEqual([{ name: 'process_resident_memory_bytes', labels: {}, value: 42 }]);
    // the other process metrics are still there
    expect(declared).toEqual(expect.arrayContaining(['process_cpu_user_seconds_total', 'nodejs_heap_size_total_bytes', 'herald_events_published_total']));
    await metrics.close({ deadlineMs: 0 });
  });

  it('refuses bad options with invalid-options naming the option', () => {
    const { app } = testApp({ relay: false });
    expect(() => createMetrics({ app, pollIntervalMs: -1 })).toThrow(/pollIntervalMs/);
    expect(() => createMetrics({ app, registry: {} as Registry })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
    expect(() => createMetrics({ app: {} as never })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('stops counting and reading at close, idempotently', async () => {
    const clock = createManualClock(0);
    const fixture = testApp({ clock, relay: false });
    let reads = 0;
    const backlog = fixture.stores.outbox.backlog.bind(fixture.stores.outbox);
    const metrics = createMetrics({ app: { ...fixture.app, stores: { ...fixture.stores, outbox: { backlog: () => (reads++, backlog()) } } }, pollIntervalMs: 1_000 });
    await metrics.start(new AbortController().signal);
    await metrics.ready?.();
    await eventually(() => clock.pending() === 1, 'the metrics waiting for their next read');
    await clock.advance(1_000);
    await eventually(() => reads === 2, 'the second read');
    await Promise.all([metrics.close({ deadlineMs: 100 }), metrics.close({ deadlineMs: 100 })]);
    await clock.advance(5_000);
    fixture.app.instrumentation.emit({ kind: 'published', topic: 'orders', eventType: 'OrderPlaced', count: 1 });
    expect(reads).toBe(2);
    expect(sumSamples(await scrape(metrics), 'herald_events_published_total')).toBe(0);
  });

  it('reads a slow read side less often, so its reads take at most 5% of the time', async () => {
    const clock = createManualClock(0);
    const fixture = testApp({ clock, relay: false });
    const readAt: number[] = [];
    let readMs = 200;
    const backlog = fixture.stores.outbox.backlog.bind(fixture.stores.outbox);
    // each read of the outbox takes readMs on the app's clock
    const outbox = { backlog: async () => (readAt.push(clock.now()), readMs > 0 && (await clock.advance(readMs)), backlog()) };
    const metrics = createMetrics({ app: { ...fixture.app, stores: { ...fixture.stores, outbox } }, pollIntervalMs: 1_000 });
    await metrics.start(new AbortController().signal);
    await metrics.ready?.();
    await eventually(() => clock.pending() === 1, 'the metrics waiting for their next read');
    // the first read took 200 ms: the next comes 19 × 200 = 3 800 ms after it, not 1 000
    await clock.advance(3_799);
    expect(readAt).toEqual([0]);
    readMs = 0;
    await clock.advance(1);
    await eventually(() => readAt.length === 2, 'the second read');
    expect(readAt[1]).toBe(200 + 3_800);
    // a fast read again: back to the interval
    await eventually(() => clock.pending() === 1, 'the metrics waiting for their next read');
    await clock.advance(1_000);
    await eventually(() => readAt.length === 3, 'the third read');
    expect(readAt[2]).toBe(200 + 3_800 + 1_000);
    await metrics.close({ deadlineMs: 100 });
  });

  it('retries a failed read at the interval, however long it took to fail, so its errors keep being counted', async () => {
    const clock = createManualClock(0);
    const fixture = testApp({ clock, relay: false });
    const readAt: number[] = [];
    let failAfterMs = 30_000;
    // the store cannot be reached: the read fails after a client's timeouts and retries (30 s), long
    // after the other sources' reads were done
    const outbox = {
      backlog: async () => {
        readAt.push(clock.now());
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (failAfterMs > 0) await clock.advance(failAfterMs);
        throw new Error('unreachable');
      },
    };
    // the client gives up (30 s) before the read's own deadline (60 s)
    const metrics = createMetrics({ app: { ...fixture.app, stores: { ...fixture.stores, outbox } }, pollIntervalMs: 1_000, readTimeoutMs: 60_000 });
    await metrics.start(new AbortController().signal);
    await metrics.ready?.();
    await eventually(() => clock.pending() === 1, 'the metrics waiting for their next read');
    failAfterMs = 0;
    // not 19 × 30 s later: a failed read says nothing of what reading costs
    await clock.advance(1_000);
    await eventually(() => readAt.length === 2, 'the second read, an interval after the failure');
    expect(readAt).toEqual([0, 30_000 + 1_000]);
    await eventually(async () => sumSamples(await scrape(metrics), 'herald_metrics_read_errors_total', { source: 'outbox' }) === 2, 'both failures counted');
    await metrics.close({ deadlineMs: 100 });
  });

  it('counts a failing read, keeps the gauges, and logs the failure once and the recovery once', async () => {
    const fixture = testApp({ relay: false });
    const lines: string[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(line) });
    let broken = true;
    const outbox = { backlog: async () => (broken ? Promise.reject(new Error('disk on fire')) : fixture.stores.outbox.backlog()) };
    const metrics = createMetrics({ app: { ...fixture.app, logger, stores: { ...fixture.stores, outbox } }, pollIntervalMs: 0 });
    await fixture.app.publish(OrderPlaced, { orderId: 'o-1' });
    await metrics.poll();
    await metrics.poll();
    let s = await scrape(metrics);
    expect(sumSamples(s, 'herald_metrics_read_errors_total', { source: 'outbox' })).toBe(2);
    expect(sumSamples(s, 'herald_metrics_read_errors_total', { source: 'lag' })).toBe(0);
    expect(sumSamples(s, 'herald_outbox_pending', { topic: 'orders' })).toBe(0);
    broken = false;
    await metrics.poll();
    s = await scrape(metrics);
    expect(sumSamples(s, 'herald_outbox_pending', { topic: 'orders' })).toBe(1);
    expect(lines.filter((l) => l.includes('reading the read side failed'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('reading the read side works again'))).toHaveLength(1);
    await metrics.close({ deadlineMs: 0 });
  });
});
