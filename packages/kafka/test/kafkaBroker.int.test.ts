import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLogger, partitionForKey } from '@herald/core';
import type { OutgoingRecord } from '@herald/core';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import type { KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker } from '../src/index.js';
import type { KafkaBroker, KafkaBrokerOptions } from '../src/index.js';
import { nextOffsets, partitionCount, recordingSink, unique, waitFor } from './helpers.js';

let mock: KafkaMock;
const brokers: KafkaBroker[] = [];

/** Options for the mock: tiny fetch wait (the mock holds empty fetches for all of it) and short sessions (its rebalances last session - 1 s). */
function open(overrides: Partial<KafkaBrokerOptions> = {}): KafkaBroker {
  const broker = kafkaBroker({
    brokers: mock.brokers,
    logger: jsonLogger({ level: 'error' }),
    fetch: { maxWaitMs: 10 },
    group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
    ...overrides,
  });
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

  it('resumes a group from its committed offsets, and only from them', async () => {
    const broker = open();
    const topic = unique('resume');
    const group = unique('g');
    await broker.publish(Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i % 8}`, value: `a${i}` })));
    const first = recordingSink();
    const sub1 = await broker.subscribe({ group, topics: [topic] }, first);
    await waitFor('40 deliveries', () => first.deliveries.length >= 40);
    // commit only the first half of what each partition delivered: the rest must come again
    const partitionsSeen = [...new Set(first.deliveries.map((d) => d.partition))];
    const processed = partitionsSeen.flatMap((p) => {
      const ds = first.deliveries.filter((d) => d.partition === p);
      return ds.slice(0, Math.ceil(ds.length / 2));
    });
    await sub1.commit(nextOffsets(processed));
    await sub1.close();
    expect(first.revokedLog.flat()).toHaveLength(first.assignedLog.flat().length);

    await broker.publish(Array.from({ length: 10 }, (_, i) => ({ topic, key: `k${i % 8}`, value: `b${i}` })));
    const second = recordingSink();
    const sub2 = await broker.subscribe({ group, topics: [topic] }, second);
    const expected = 50 - processed.length;
    await waitFor(`${expected} redeliveries`, () => second.deliveries.length >= expected);
    await new Promise((resolve) => setTimeout(resolve, 200)); // nothing beyond them may arrive
    await sub2.close();

    const processedIds = new Set(processed.map((d) => `${d.partition}/${d.offset}`));
    expect(second.deliveries).toHaveLength(expected);
    expect(second.deliveries.filter((d) => processedIds.has(`${d.partition}/${d.offset}`))).toEqual([]);
    for (const { partition, offset } of nextOffsets(processed)) {
      expect(Math.min(...second.deliveries.filter((d) => d.partition === partition).map((d) => d.offset))).toBe(offset);
    }
  });

  it('replays a group from earliest, from a timestamp and from latest (resetOffsets)', async () => {
    const broker = open();
    const topic = unique('replay');
    const group = unique('g');
    const old = Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i % 5}`, value: `old${i}`, timestamp: 1_000_000 + i }));
    const recent = Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i % 5}`, value: `new${i}`, timestamp: 2_000_000 + i }));
    await broker.publish([...old, ...recent]);
    const consumeAll = async (expected: number) => {
      const sink = recordingSink();
      const sub = await broker.subscribe({ group, topics: [topic] }, sink);
      await waitFor(`${expected} deliveries`, () => sink.deliveries.length >= expected);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await sub.commit(nextOffsets(sink.deliveries));
      await sub.close();
      return sink.deliveries.map((d) => d.value);
    };
    expect(await consumeAll(40)).toHaveLength(40);

    await broker.resetOffsets({ group, topic, to: 'earliest' });
    expect((await consumeAll(40)).sort()).toEqual([...old, ...recent].map((r) => r.value).sort());

    await broker.resetOffsets({ group, topic, to: { timestamp: 2_000_000 } });
    expect((await consumeAll(20)).sort()).toEqual(recent.map((r) => r.value).sort());

    await broker.resetOffsets({ group, topic, to: 'latest' });
    await broker.publish([{ topic, key: 'k1', value: 'after-latest' }]);
    expect(await consumeAll(1)).toEqual(['after-latest']);
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

  it('starts a group without commits at latest, or at a timestamp', async () => {
    const broker = open();
    const topic = unique('start');
    await broker.publish(Array.from({ length: 8 }, (_, i) => ({ topic, key: `k${i}`, value: `t${i}`, timestamp: 5_000 + i * 1_000 })));

    const latest = recordingSink();
    const subLatest = await broker.subscribe({ group: unique('g'), topics: [topic], start: 'latest' }, latest);
    const fromTime = recordingSink();
    const subTime = await broker.subscribe({ group: unique('g'), topics: [topic], start: { timestamp: 9_000 } }, fromTime);
    await broker.publish([{ topic, key: 'k0', value: 'fresh' }]);
    await waitFor('the fresh record at latest', () => latest.deliveries.length >= 1);
    await waitFor('records from t=9000', () => fromTime.deliveries.length >= 4);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await Promise.all([subLatest.close(), subTime.close()]);

    expect(latest.deliveries.map((d) => d.value)).toEqual(['fresh']);
    expect(fromTime.deliveries.map((d) => d.value).sort()).toEqual(['fresh', 't4', 't5', 't6', 't7']);
  });

  it('shares partitions between two members: lost partitions are revoked, gained ones assigned, every record delivered', async () => {
    const broker = open();
    const topic = unique('share');
    const group = unique('g');
    await broker.publish(Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i}`, value: `${i}` })));
    const a = recordingSink();
    const subA = await broker.subscribe({ group, topics: [topic] }, a);
    await waitFor('member A reads everything', () => a.deliveries.length >= 40);
    await subA.commit(nextOffsets(a.deliveries));
    const b = recordingSink();
    const subB = await broker.subscribe({ group, topics: [topic] }, b);
    await waitFor('A loses partitions to B', () => a.revokedLog.length >= 1);
    await broker.publish(Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i}`, value: `second-${i}` })));
    await waitFor('the second round', () => [...a.deliveries, ...b.deliveries].filter((d) => d.value.startsWith('second-')).length >= 40);
    const ownedByA = a.assignedLog.flat().length - a.revokedLog.flat().length;
    const ownedByB = b.assignedLog.flat().length - b.revokedLog.flat().length;
    await Promise.all([subA.close(), subB.close()]);

    expect(ownedByB).toBeGreaterThan(0);
    expect(ownedByA).toBeGreaterThan(0);
    expect(ownedByA + ownedByB).toBe(await partitionCount(mock.brokers, topic));
    expect(new Set([...a.deliveries, ...b.deliveries].filter((d) => d.value.startsWith('second-')).map((d) => d.value)).size).toBe(40);
    expect(b.deliveries.filter((d) => !d.value.startsWith('second-'))).toEqual([]); // A committed round one before B came
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
