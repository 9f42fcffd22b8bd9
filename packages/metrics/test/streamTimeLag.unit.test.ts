import { createInstrumentation, createManualClock, silentLogger } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';
import { describe, expect, it } from 'vitest';
import { createMetrics, parseExposition } from '../src/index.js';

// The stream time lag gauge follows the streams' `stream-time` facts of this process: computed at
// the scrape, dropped for the partitions this member loses (their next owner reports them).

function metricsOnFacts() {
  const clock = createManualClock(100_000);
  const app = { instrumentation: createInstrumentation(), broker: memoryBroker(), stores: memoryStores(), clock, logger: silentLogger, events: [], subscriptions: [] };
  const metrics = createMetrics({ app, pollIntervalMs: 0, processMetrics: false });
  const lags = async () =>
    Object.fromEntries(
      parseExposition((await metrics.scrape()).body)
        .filter((s) => s.name === 'herald_stream_time_lag_seconds')
        .map((s) => [`${s.labels['group']}/${s.labels['aggregation']}/${s.labels['partition']}`, s.value]),
    );
  const streamTime = (group: string, partition: number, at: number) =>
    app.instrumentation.emit({ kind: 'stream-time', group, aggregation: 'per-user', partition, streamTime: at });
  return { app, clock, metrics, lags, streamTime };
}

describe('the stream time lag gauge', () => {
  it("drops a partition this member lost, of that group only, and keeps the others' lag growing with the clock", async () => {
    const { app, clock, metrics, lags, streamTime } = metricsOnFacts();
    streamTime('clicks', 0, 40_000);
    streamTime('clicks', 1, 90_000);
    streamTime('views', 0, 70_000);
    expect(await lags()).toEqual({ 'clicks/per-user/0': 60, 'clicks/per-user/1': 10, 'views/per-user/0': 30 });

    app.instrumentation.emit({ kind: 'revoked', group: 'clicks', partitions: [{ topic: 'clicks', partition: 0 }] });
    await clock.advance(5_000);
    expect(await lags()).toEqual({ 'clicks/per-user/1': 15, 'views/per-user/0': 35 });

    // taken back: shown again from its next fact
    streamTime('clicks', 0, 104_000);
    expect(await lags()).toEqual({ 'clicks/per-user/0': 1, 'clicks/per-user/1': 15, 'views/per-user/0': 35 });
    await metrics.close({ deadlineMs: 0 });
  });

  it('goes below 0 for a stream time ahead of the clock (event times from the future), not hidden at 0', async () => {
    const { metrics, lags, streamTime } = metricsOnFacts();
    streamTime('clicks', 0, 160_000);
    expect(await lags()).toEqual({ 'clicks/per-user/0': -60 });
    await metrics.close({ deadlineMs: 0 });
  });
});
