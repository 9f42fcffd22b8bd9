import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/index.js';
import { testApp } from './support/app.js';
import { scrape, useStartedApps } from './support/running.js';

const { started } = useStartedApps();

describe('the partition-held gauge', () => {
  it('shows a partition held again for another reason under that reason only, and drops it when the partition moves', async () => {
    const fixture = testApp({ healed: { value: true } });
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    const held = async () => (await scrape(metrics)).filter((x) => x.name === 'herald_consumer_partition_held');
    const posts2 = { group: 'search', topic: 'posts', partition: 2 };
    const labels = { group: 'search', topic: 'posts', partition: '2' };
    fixture.app.instrumentation.emit({ kind: 'partition-held', ...posts2, offset: 41, reason: 'record-batch-undecodable' });
    fixture.app.instrumentation.emit({ kind: 'partition-held', ...posts2, offset: 41, reason: 'record-batch-undecodable' });
    // a restarted fetch past the first hold meets another unreadable batch, with another code
    fixture.app.instrumentation.emit({ kind: 'partition-held', ...posts2, offset: 57, reason: 'record-corrupt' });
    // another partition of the group, held for the first reason, keeps its own series
    fixture.app.instrumentation.emit({ kind: 'partition-held', ...posts2, partition: 3, offset: 9, reason: 'record-batch-undecodable' });
    expect(await held()).toEqual([
      { name: 'herald_consumer_partition_held', labels: { ...labels, reason: 'record-corrupt' }, value: 1 },
      { name: 'herald_consumer_partition_held', labels: { ...labels, partition: '3', reason: 'record-batch-undecodable' }, value: 1 },
    ]);
    fixture.app.instrumentation.emit({ kind: 'revoked', group: 'search', partitions: [{ topic: 'posts', partition: 2 }] });
    expect(await held()).toEqual([{ name: 'herald_consumer_partition_held', labels: { ...labels, partition: '3', reason: 'record-batch-undecodable' }, value: 1 }]);
    fixture.app.instrumentation.emit({ kind: 'revoked', group: 'search', partitions: [{ topic: 'posts', partition: 3 }] });
    expect(await held()).toEqual([]);
  });
});
