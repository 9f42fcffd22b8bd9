import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { HeraldError, createApp, createManualClock, defineEvent, silentLogger, type App, type ManualClock, type SqlTx } from '@herald/core';
import { createMetrics, parseExposition, sumSamples, type HeraldMetrics } from '@herald/metrics';
import { TimeWindows, createTopology } from '@herald/stream';
import { eventually } from '@herald/testing';
import { Click, ClickCounts, LateClicks, topics } from '../../packages/stream/test/support.js';
import { embeddedEngines } from '../../packages/stream/test/embedded.js';

// What an operator sees of windowed streams: a running topology on the embedded engine (a real
// SQLite file) and a manual clock, its metrics scraped. The alerts HeraldStreamLateRecords and
// HeraldStreamPunctuationFailing, and the overview's Streams row, read these series.

const INTERVAL_MS = 100;

const Pulse = defineEvent({ type: 'Pulse', topic: 'pulses', key: (d) => d.source, schema: Type.Object({ source: Type.String() }) });
/**
 * The pulses' output, down for a while: a retriable failure, so the punctuation that closes its
 * window fails at every tick (with `sink-down`) until its attempts, set high here, run out; a
 * failure for good would dead-letter the result at once instead.
 */
const sinkDown = () => new HeraldError('sink-down', 'the pulses sink is down', { retriable: true });

const engines = embeddedEngines('herald-stream-metrics-');

/**
 * An app with two topologies: `clicks` counts clicks per user and 10 s window (3 s grace; only
 * records move its stream time), `pulses` counts pulses per 1 s window into a sink that is down
 * ({@link sinkDown}), so only its idle punctuation closes its window, and fails. Five clicks (one late, one window
 * closed, stream time 20 500) and a pulse at 1 000 are published before it starts.
 */
async function started(clock: ManualClock): Promise<{ app: App<SqlTx>; metrics: HeraldMetrics; failures: () => number; applied: () => number }> {
  const engine = engines.open();
  await engine.broker.ensureTopics([...topics(1), { name: Pulse.topic, partitions: 1 }]);
  const app = createApp<SqlTx>({ name: 'stream-metrics', broker: engine.broker, stores: engine.stores, topics: topics(1), clock, logger: silentLogger, relay: false });
  engines.track(app);
  const clicks = createTopology<SqlTx>({ name: 'clicks', idleTimeoutMs: false });
  clicks
    .from(Click)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(10_000, 3_000))
    .count('per-user', { late: { to: LateClicks } })
    .to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, clicks: r.value.value }));
  clicks.install(app);
  const pulses = createTopology<SqlTx>({ name: 'pulses', idleTimeoutMs: 1_000, punctuateIntervalMs: INTERVAL_MS, handler: { retry: { maxAttempts: 1_000 } } });
  pulses
    .from(Pulse)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
    .count('per-source', { late: { handler: async () => {} } })
    .forEach(async () => {
      throw sinkDown();
    });
  pulses.install(app);
  const metrics = createMetrics({ app, pollIntervalMs: 0, processMetrics: false });
  app.use(metrics);
  let failures = 0;
  let applied = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'punctuation-failed' && fact.reason === 'sink-down') failures++;
    if (fact.kind === 'handled' && fact.outcome === 'applied') applied++;
  });
  const sent = [
    { userId: 'u-1', at: 1_000 },
    { userId: 'u-1', at: 1_500 },
    { userId: 'u-2', at: 20_000 },
    { userId: 'u-1', at: 2_000 },
    { userId: 'u-3', at: 20_500 },
  ];
  for (const [seq, c] of sent.entries()) await app.publishDirect(Click, { userId: c.userId, seq }, { occurredAt: new Date(c.at) });
  await app.publishDirect(Pulse, { source: 's-1' }, { occurredAt: new Date(1_000) });
  await app.start();
  await app.ready();
  return { app, metrics, failures: () => failures, applied: () => applied };
}

describe('the stream metrics of a running topology', () => {
  it('count late records and results, show how far stream time lags at each scrape, and count failed punctuations by code', async () => {
    const clock = createManualClock(60_000);
    const t = await started(clock);
    await eventually(() => (t.applied() === 6 ? true : undefined), 20_000, 'the clicks and the pulse to be counted', 5);
    await eventually(
      async () => {
        if (t.failures() >= 3) return true;
        await clock.advance(INTERVAL_MS);
        return undefined;
      },
      20_000,
      'the pulses punctuation to fail three times',
      5,
    );
    const scrape = async () => parseExposition((await t.metrics.scrape()).body);
    const value = async (name: string, labels: Record<string, string>) => sumSamples(await scrape(), name, labels);
    const clicks = { group: 'clicks', aggregation: 'per-user' };

    expect(await value('herald_stream_late_records_total', { ...clicks, topic: Click.topic, partition: '0' })).toBe(1);
    expect(await value('herald_stream_results_total', clicks)).toBe(1);
    expect(await value('herald_stream_results_total', { group: 'pulses' })).toBe(0);
    // the punctuator goes on failing meanwhile: the count scraped is between the failures seen before and after
    const failed = { group: 'pulses', reason: 'sink-down' };
    const atLeast = t.failures();
    const scraped = await value('herald_stream_punctuation_failures_total', failed);
    expect(scraped).toBeGreaterThanOrEqual(Math.max(3, atLeast));
    expect(scraped).toBeLessThanOrEqual(t.failures());
    // the lag is now minus the stream time, at the scrape: it grows while stream time stands still
    const lag = { ...clicks, partition: '0' };
    expect(await value('herald_stream_time_lag_seconds', lag)).toBe((clock.now() - 20_500) / 1000);
    const stuck = { group: 'pulses', aggregation: 'per-source', partition: '0' };
    expect(await value('herald_stream_time_lag_seconds', stuck)).toBe((clock.now() - 1_000) / 1000);
    // less than a punctuation's deadline (30 s): the one in flight fails for its own reason, not a timeout
    const before = clock.now();
    await clock.advance(10_000);
    expect(await value('herald_stream_time_lag_seconds', lag)).toBe((before + 10_000 - 20_500) / 1000);
    expect(await value('herald_stream_time_lag_seconds', stuck)).toBe((before + 10_000 - 1_000) / 1000);
  });
});
