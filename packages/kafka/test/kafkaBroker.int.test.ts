import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jsonLogger, partitionForKey } from '@herald/core';
import type { Logger, OutgoingRecord } from '@herald/core';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import type { KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker } from '../src/index.js';
import type { KafkaBroker, KafkaBrokerOptions } from '../src/index.js';
import { buildKafkaBroker } from '../src/internal/buildBroker.js';
import type { ClientHooks } from '../src/internal/client.js';
import { ApiKeys, countedRequests, delayedRequests } from './delayedSockets.js';
import { partitionCount, recordingSink, unique, waitFor } from './helpers.js';

let mock: KafkaMock;
const brokers: KafkaBroker[] = [];

/** Options for the mock: tiny fetch wait (the mock holds empty fetches for all of it) and short sessions (its rebalances last session - 1 s). */
function mockOptions(overrides: Partial<KafkaBrokerOptions> = {}): KafkaBrokerOptions {
  return {
    brokers: mock.brokers,
    logger: jsonLogger({ level: 'error' }),
    fetch: { maxWaitMs: 10 },
    group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
    ...overrides,
  };
}

function open(overrides: Partial<KafkaBrokerOptions> = {}, hooks: ClientHooks = {}): KafkaBroker {
  const broker = buildKafkaBroker(mockOptions(overrides), hooks);
  brokers.push(broker);
  return broker;
}

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});

afterAll(async () => {
  await Promise.allSettled(brokers.map((b) => b.close()));
  await mock?.stop();
});

// Kafka-specific checks; the port's contract (groups, commits, replay, rebalances) is proven by
// conformance.int.test.ts with the shared broker suite.
describe('kafkaBroker on the mock cluster', () => {
  it('places every record on partitionForKey(key, partitions), as the embedded log does', async () => {
    const broker = open();
    const topic = unique('placement');
    const records: OutgoingRecord[] = Array.from({ length: 300 }, (_, i) => ({ topic, key: `customer-${i % 97}`, value: `{"n":${i}}` }));
    await broker.publish(records);
    const partitions = await partitionCount(mock.brokers, topic);
    const sink = recordingSink();
    const sub = await broker.subscribe({ group: unique('g'), topics: [topic] }, sink);
    await waitFor('300 deliveries', () => sink.deliveries.length >= 300);
    await sub.close();

    expect(partitions).toBeGreaterThan(1);
    expect(sink.deliveries).toHaveLength(300);
    for (const d of sink.deliveries) expect(d.partition, d.key).toBe(partitionForKey(d.key, partitions));
    expect(new Set(sink.deliveries.map((d) => d.partition)).size).toBe(partitions);
    expect(sink.problems).toEqual([]);
  });

  it('keeps per-key order within a call (across several produce requests) and across awaited calls', async () => {
    // 300-byte requests: each call is split into many produce requests, which must not reorder a key
    const broker = open({ maxRequestBytes: 300 });
    const topic = unique('order');
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    let seq = 0;
    for (let call = 0; call < 5; call++) {
      const records = Array.from({ length: 60 }, (_, i) => ({ topic, key: keys[i % keys.length]!, value: String(seq++) }));
      await broker.publish(records);
    }
    const sink = recordingSink();
    const sub = await broker.subscribe({ group: unique('g'), topics: [topic], maxBatch: 7 }, sink);
    await waitFor('300 deliveries', () => sink.deliveries.length >= 300);
    await sub.close();

    expect(sink.deliveries).toHaveLength(300);
    for (const key of keys) {
      const values = sink.deliveries.filter((d) => d.key === key).map((d) => Number(d.value));
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(values).toHaveLength(25);
    }
    expect(Math.max(...sink.batches.map((b) => b.deliveries.length))).toBeLessThanOrEqual(7);
    expect(sink.problems).toEqual([]);
  });

  it('maps headers, timestamps and the high watermark onto deliveries', async () => {
    const broker = open({ compression: 'gzip' });
    const topic = unique('fields');
    await broker.publish([{ topic, key: 'k', value: 'héllo', headers: { 'herald-type': 'OrderPlaced', trace: 'abc' }, timestamp: 1_700_000_000_123 }]);
    const sink = recordingSink();
    const sub = await broker.subscribe({ group: unique('g'), topics: [topic] }, sink);
    await waitFor('one delivery', () => sink.deliveries.length >= 1);
    await sub.close();

    expect(sink.deliveries[0]).toEqual({
      topic,
      partition: partitionForKey('k', await partitionCount(mock.brokers, topic)),
      offset: 0,
      key: 'k',
      value: 'héllo',
      headers: { 'herald-type': 'OrderPlaced', trace: 'abc' },
      timestamp: 1_700_000_000_123,
    });
    expect(sink.batches[0]!.highWatermark).toBe(1);
  });

  it('delivers a record whose header has no value (null), and the records after it, instead of crashing on it forever', async () => {
    const topic = unique('null-header');
    // another client wrote it (kcat: `-H name` without a value; kafkajs cannot send one, Herald never does)
    const produce = async (value: string, headers: string[]) => {
      const kcat = promisify(execFile)('kcat', ['-b', mock.brokers[0]!, '-P', '-t', topic, '-k', 'k', ...headers.flatMap((h) => ['-H', h])]);
      kcat.child.stdin!.end(`${value}\n`);
      await kcat;
    };
    await produce('first', ['empty', 'repeated=kept', 'repeated', 'trace=abc']);
    await produce('second', []);
    const sink = recordingSink();
    const sub = await open().subscribe({ group: unique('g'), topics: [topic] }, sink);
    await waitFor('both records', () => sink.deliveries.length >= 2, 10_000).finally(() => sub.close());

    expect(sink.deliveries.map((d) => [d.value, d.headers])).toEqual([
      ['first', { repeated: 'kept', trace: 'abc' }],
      ['second', {}],
    ]);
  });

  it('a `latest` group whose partitions move before any commit: the new owner starts where the first did, not at a later latest', async () => {
    const topic = unique('latest');
    const group = unique('g');
    await open().publish([{ topic, key: 'warm-up', value: 'before the group' }]);
    const first = recordingSink();
    const a = await open().subscribe({ group, topics: [topic], start: 'latest' }, first);
    const records = Array.from({ length: 40 }, (_, i) => ({ topic, key: `key-${i}`, value: String(i) }));
    await open().publish(records);
    await waitFor('the first member given all 40', () => first.deliveries.length >= 40);

    // it completes nothing (commits nothing); a second member takes some of its partitions
    const second = recordingSink();
    const b = await open().subscribe({ group, topics: [topic], start: 'latest' }, second);
    const moved = second.assignedLog.flat().map((tp) => tp.partition);
    expect(moved.length).toBeGreaterThan(0);
    const given = first.deliveries.filter((d) => moved.includes(d.partition)).map((d) => d.value);
    await waitFor('the moved partitions’ records delivered again', () => second.deliveries.length >= given.length, 10_000)
      .finally(() => Promise.all([a.close(), b.close()]));
    expect(second.deliveries.map((d) => d.value).sort()).toEqual([...given].sort());
  });

  it('provisions topics best-effort: a refused creation falls back to auto-creation, a partition mismatch is logged', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...jsonLogger({ level: 'silent' }), warn: (message) => warnings.push(message), child: () => logger };
    const broker = open({ logger });
    const [four, six] = [unique('four'), unique('six')];
    await broker.ensureTopics([
      { name: four, partitions: 4, replicationFactor: 3, retentionMs: 86_400_000 },
      { name: six, partitions: 6, replicationFactor: 3 },
    ]);
    expect(await partitionCount(mock.brokers, four)).toBe(4);
    expect(await partitionCount(mock.brokers, six)).toBe(4); // the mock's fixed default
    expect(warnings).toContain('kafka: topic creation refused; relying on auto-creation with the broker defaults');
    expect(warnings.filter((w) => w.includes('declared partition count'))).toHaveLength(1);
  });

  it('refuses to reset the offsets of a group with a live member', async () => {
    const broker = open();
    const topic = unique('busy');
    const group = unique('g');
    await broker.publish([{ topic, key: 'a', value: '1' }]);
    const sub = await broker.subscribe({ group, topics: [topic] }, recordingSink());
    try {
      await expect(broker.resetOffsets({ group, topic, to: 'earliest' })).rejects.toMatchObject({ code: 'group-active' });
    } finally {
      await sub.close();
    }
  });

  it('refuses with group-active, not a broker error, when the broker refuses the resetting member\'s late SyncGroup', async () => {
    // the live member leads the group; the mock completes a generation on the leader's SyncGroup
    // and answers INVALID_REQUEST to a follower's that comes after it: a race lost here on purpose
    const broker = open();
    const topic = unique('busy');
    const group = unique('g');
    await broker.publish([{ topic, key: 'a', value: '1' }]);
    const sub = await broker.subscribe({ group, topics: [topic] }, recordingSink());
    const lateSync = delayedRequests({ apiKey: ApiKeys.syncGroup, delayMs: 1_000 });
    const resetter = open({}, { socketFactory: lateSync.socketFactory });
    try {
      await expect(resetter.resetOffsets({ group, topic, to: 'earliest' })).rejects.toMatchObject({ code: 'group-active' });
      expect(lateSync.delayed()).toBe(1);
    } finally {
      await sub.close();
    }
  });

  it('joins a group whose leader synced first, instead of failing subscribe on the broker\'s refusal of the late SyncGroup', async () => {
    const broker = open();
    const topic = unique('late');
    const group = unique('g');
    await broker.publish([{ topic, key: 'a', value: '1' }]);
    const first = await broker.subscribe({ group, topics: [topic] }, recordingSink());
    const lateSync = delayedRequests({ apiKey: ApiKeys.syncGroup, delayMs: 1_000 });
    const sink = recordingSink();
    const second = await open({}, { socketFactory: lateSync.socketFactory }).subscribe({ group, topics: [topic] }, sink);
    try {
      expect(lateSync.delayed()).toBe(1);
      expect(sink.assignedLog.flat().length).toBeGreaterThan(0);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('fetches nothing more once it starts closing, while the sink finishes its work in revoked', async () => {
    const requests = countedRequests();
    const broker = open({}, { socketFactory: requests.socketFactory });
    const topic = unique('closing');
    await broker.publish(Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i}`, value: String(i) })));
    const sink = recordingSink();
    let revoking!: () => void;
    const revokeStarted = new Promise<void>((resolve) => (revoking = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    // the handlers still running on close: the member stays in the group (heartbeating) until they end
    sink.revoked = async () => {
      revoking();
      await finished;
    };
    const sub = await broker.subscribe({ group: unique('g'), topics: [topic] }, sink);
    await waitFor('40 deliveries', () => sink.deliveries.length >= 40);
    const closing = sub.close();
    await revokeStarted;
    const heartbeats = requests.count(ApiKeys.heartbeat);
    await waitFor('a heartbeat', () => requests.count(ApiKeys.heartbeat) > heartbeats);
    const fetches = requests.count(ApiKeys.fetch);
    await waitFor('three more heartbeats', () => requests.count(ApiKeys.heartbeat) > heartbeats + 3);
    const fetchedWhileClosing = requests.count(ApiKeys.fetch) - fetches;
    finish();
    await closing;
    expect(fetchedWhileClosing).toBe(0);
  });

  it('closes idempotently and refuses work afterwards', async () => {
    const broker = kafkaBroker({ brokers: mock.brokers, logger: jsonLogger({ level: 'error' }) });
    await broker.publish([{ topic: unique('closing'), key: 'k', value: 'v' }]);
    await Promise.all([broker.close(), broker.close()]);
    await broker.close();
    await expect(broker.publish([{ topic: 'x', key: 'k', value: 'v' }])).rejects.toMatchObject({ code: 'closed' });
    await expect(broker.subscribe({ group: 'g', topics: ['x'] }, recordingSink())).rejects.toMatchObject({ code: 'closed' });
  });
});
