import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalyticsPipeline, PipelineUrls } from '../src/system.js';
import { eventually, httpBatch } from './support/client.js';
import { httpQueries } from './support/drive.js';
import { startInProcess, tempDataDir } from './support/inProcess.js';

/**
 * A quiet stream still closes its minutes: once no event came for STREAM_IDLE_TIMEOUT_MS, each
 * partition's stream time moves on with the wall clock, so the last minute becomes final and is
 * counted without any later event. The events are in the last millisecond of the previous
 * minute, so the first idle step already passes its end (grace 0): no timing decides the answer.
 */
describe('analytics-pipeline with idle partitions', () => {
  const data = tempDataDir('analytics-idle');
  let system: AnalyticsPipeline | undefined;
  let urls: PipelineUrls = {};
  beforeAll(async () => {
    ({ system, urls } = await startInProcess(data.dir, { STREAM_GRACE_MS: '0', STREAM_IDLE_TIMEOUT_MS: '300' }));
  });
  afterAll(async () => {
    await system?.close();
    data.remove();
  });

  it('closes the last minute of a quiet stream and counts it', { timeout: 60_000 }, async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const at = new Date(minute + 59_999).toISOString();
    const events = Array.from({ length: 12 }, (_, i) => ({ eventId: `idle-${i}`, userId: `idle-user-${i % 6}`, type: 'page_view', timestamp: at, properties: { page: '/' } }));
    const queries = httpQueries(urls.analyticsHttp!);
    const range = { from: new Date(minute - 3_600_000).toISOString(), to: new Date(minute + 3_600_000).toISOString(), window: '1m' };
    // nothing after these events: only the idle partitions' punctuation can close their minute
    await httpBatch(urls.producerHttp!).send(events);
    const answer = await eventually(
      async () => {
        const counts = (await queries.counts(range)) as { series: unknown[] };
        return counts.series.length > 0 ? counts : undefined;
      },
      30_000,
      () => 'the idle minute to close',
    );
    expect(answer).toEqual({ from: range.from, to: range.to, series: [{ windowStart: new Date(minute).toISOString(), windowEnd: new Date(minute + 60_000).toISOString(), count: 12, uniqueUsers: 6 }] });
    expect(await queries.late(range)).toEqual({ from: range.from, to: range.to, late: [] });
  });
});
