import { describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import type { Logger } from '@herald/core';
import type { InspectDeps } from '../src/internal/inspect/deps.js';
import { describeGroup } from '../src/internal/inspect/describeGroup.js';
import { describeTopics } from '../src/internal/inspect/describeTopics.js';
import { listGroups } from '../src/internal/inspect/listGroups.js';
import type { BrokerSupport } from '../src/internal/support.js';

// The mock cluster lacks DescribeConfigs, ListGroups, DescribeGroups and the all-topics
// OffsetFetch, so the paths real brokers take are checked here against a scripted admin client
// answering what kafkajs returns for them.

type Script = Partial<Record<keyof Admin, (...args: never[]) => Promise<unknown>>>;

function setup(script: Script, local: { known?: string[]; members?: Record<string, number> } = {}) {
  const calls: string[] = [];
  const logs: string[] = [];
  const admin = new Proxy({} as Admin, {
    get: (_, name: string) => {
      if (name === 'then') return undefined; // not a promise: `await` looks for this
      const answer = script[name as keyof Admin];
      if (!answer) throw new Error(`unexpected admin.${name}`);
      return (...args: never[]) => {
        calls.push(name);
        return answer(...args);
      };
    },
  });
  const log = (message: string) => void logs.push(message);
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  const support: BrokerSupport = {};
  const deps: InspectDeps = {
    admin: async () => admin,
    support,
    logger,
    local: { known: () => local.known ?? [], members: (g) => local.members?.[g] ?? 0 },
  };
  return { deps, calls, logs, support };
}

const offsets = (...ranges: [number, number][]) => async () => ranges.map(([low, high], partition) => ({ partition, offset: String(high), low: String(low), high: String(high) })).reverse();

const configs = (entries: Record<string, string>, errorCode = 0) => ({
  errorCode,
  errorMessage: '',
  resourceName: 'orders',
  resourceType: 2,
  configEntries: Object.entries(entries).map(([configName, configValue]) => ({ configName, configValue })),
});

describe('describeTopics', () => {
  it('reads retention from DescribeConfigs: -1 and errors are null, numbers are kept', async () => {
    const { deps, support } = setup({
      listTopics: async () => ['orders', 'payments', '__consumer_offsets'],
      fetchTopicOffsets: offsets([5, 9], [0, 3]),
      describeConfigs: async () => ({ resources: [configs({ 'retention.ms': '604800000', 'retention.bytes': '-1' }), { ...configs({}, 29), resourceName: 'payments' }] }),
    });
    expect(await describeTopics(deps)).toEqual([
      { name: 'orders', partitions: [{ partition: 0, start: 5, end: 9 }, { partition: 1, start: 0, end: 3 }], retentionMs: 604_800_000, retentionBytes: null },
      { name: 'payments', partitions: [{ partition: 0, start: 5, end: 9 }, { partition: 1, start: 0, end: 3 }], retentionMs: null, retentionBytes: null },
    ]);
    expect(support.describeConfigs).toBe(true);
  });

  it('degrades to null once, logged once, when the cluster has no controller to answer DescribeConfigs', async () => {
    const { deps, calls, logs } = setup({
      listTopics: async () => ['orders'],
      fetchTopicOffsets: offsets([0, 1]),
      describeConfigs: async () => Promise.reject(Object.assign(new Error('Broker 0 not found in the cached metadata'), { name: 'KafkaJSBrokerNotFound' })),
      describeCluster: async () => ({ brokers: [{ nodeId: 1 }, { nodeId: 2 }], controller: 0, clusterId: 'c' }),
    });
    for (let i = 0; i < 2; i++) expect((await describeTopics(deps, ['orders']))[0]).toMatchObject({ retentionMs: null, retentionBytes: null });
    expect(calls.filter((c) => c === 'describeConfigs')).toHaveLength(1);
    expect(logs.filter((l) => l.includes('cannot describe topic configs'))).toHaveLength(1);
  });

  it('reports a controller it cannot reach as broker-unavailable, not as unknown retention', async () => {
    const { deps, support } = setup({
      listTopics: async () => ['orders'],
      fetchTopicOffsets: offsets([0, 1]),
      describeConfigs: async () => Promise.reject(Object.assign(new Error('Broker 2 not found in the cached metadata'), { name: 'KafkaJSBrokerNotFound' })),
      describeCluster: async () => ({ brokers: [{ nodeId: 1 }, { nodeId: 2 }], controller: 2, clusterId: 'c' }),
    });
    await expect(describeTopics(deps)).rejects.toMatchObject({ code: 'broker-unavailable' });
    expect(support.describeConfigs).toBeUndefined();
  });
});

describe('describeGroup and listGroups on a broker with the full admin API', () => {
  it('takes members from DescribeGroups and the committed topics from one OffsetFetch, without scanning every topic', async () => {
    const { deps, calls, support } = setup({
      describeGroups: async () => ({ groups: [{ groupId: 'billing', members: [{}, {}], state: 'Stable' }] }),
      fetchOffsets: async () => [
        { topic: 'payments', partitions: [{ partition: 0, offset: '-1' }] },
        { topic: 'orders', partitions: [{ partition: 1, offset: '2' }, { partition: 0, offset: '7' }] },
      ],
      fetchTopicOffsets: offsets([4, 9], [0, 3]),
    });
    expect(await describeGroup(deps, 'billing')).toEqual({
      group: 'billing',
      members: 2,
      partitions: [
        { topic: 'orders', partition: 0, committed: 7, end: 9, lag: 2 },
        { topic: 'orders', partition: 1, committed: 2, end: 3, lag: 1 },
      ],
      totalLag: 3,
    });
    expect(calls).not.toContain('listTopics');
    expect(support).toMatchObject({ describeGroups: true, fetchAllOffsets: true });
  });

  it('counts no lag for records retention deleted, nor for a commit beyond the end: end - max(committed, start), never negative', async () => {
    const { deps } = setup({
      describeGroups: async () => ({ groups: [{ groupId: 'billing', members: [], state: 'Empty' }] }),
      fetchOffsets: async () => [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, offset: '3' }, // below start: 3..9 were deleted unread
            { partition: 1, offset: '12' }, // between start and end
            { partition: 2, offset: '30' }, // beyond the end (set by hand)
          ],
        },
      ],
      // partition 3 never committed: everything retained, not everything ever written
      fetchTopicOffsets: offsets([10, 25], [10, 25], [10, 25], [20, 26]),
    });
    expect(await describeGroup(deps, 'billing')).toEqual({
      group: 'billing',
      members: 0,
      partitions: [
        { topic: 'orders', partition: 0, committed: 3, end: 25, lag: 15 },
        { topic: 'orders', partition: 1, committed: 12, end: 25, lag: 13 },
        { topic: 'orders', partition: 2, committed: 30, end: 25, lag: 0 },
        { topic: 'orders', partition: 3, committed: null, end: 26, lag: 6 },
      ],
      totalLag: 34,
    });
  });

  it('asks the cluster for its topic names once for the groups of one poll, and again for a name it did not have', async () => {
    let topics = ['orders'];
    const { deps, calls } = setup({
      describeGroups: async () => ({ groups: [] }),
      // a broker naming the topics a group committed on (no topic list needed for those)
      fetchOffsets: async () => [{ topic: 'orders', partitions: [{ partition: 0, offset: '1' }] }],
      listTopics: async () => topics,
      fetchTopicOffsets: offsets([0, 3]),
    });
    // a metrics poll describes each of the app's groups with the topics it reads
    for (const group of ['billing', 'shipping', 'audit']) await describeGroup(deps, group, { topics: ['orders'] });
    expect(calls.filter((c) => c === 'listTopics')).toHaveLength(1);
    // a topic created a moment ago is not among the names read: they are read again, at once
    topics = ['orders', 'refunds'];
    const refunds = await describeGroup(deps, 'billing', { topics: ['refunds'] });
    expect(refunds.partitions.map((p) => [p.topic, p.committed, p.lag])).toEqual([
      ['orders', 1, 2],
      ['refunds', null, 3],
    ]);
    expect(calls.filter((c) => c === 'listTopics')).toHaveLength(2);
  });

  it('reports an unknown group (Dead, no offsets) as no members and no partitions', async () => {
    const { deps, calls } = setup({
      describeGroups: async () => ({ groups: [{ groupId: 'nobody', members: [], state: 'Dead' }] }),
      fetchOffsets: async () => [],
      listTopics: async () => ['orders', '__consumer_offsets'],
    });
    expect(await describeGroup(deps, 'nobody')).toEqual({ group: 'nobody', members: 0, partitions: [], totalLag: 0 });
    expect(calls).not.toContain('fetchTopicOffsets');
  });

  it('lists every group ListGroups names, once each, in name order', async () => {
    const { deps } = setup({ listGroups: async () => ({ groups: [{ groupId: 'shipping' }, { groupId: 'billing' }, { groupId: 'shipping' }] }) }, { known: ['local-only'] });
    expect(await listGroups(deps)).toEqual(['billing', 'shipping']);
  });
});
