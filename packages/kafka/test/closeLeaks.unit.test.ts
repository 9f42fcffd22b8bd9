import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@herald/core';
import type { DeliverySink } from '@herald/core';
import { resolveKafkaOptions } from '../src/index.js';
import { buildKafkaBroker } from '../src/internal/buildBroker.js';
import { createRecordReader } from '../src/internal/recordReader.js';

/** A pending promise the test settles. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * A stand-in for the kafkajs client that counts the connections each kind of client holds (connected
 * minus disconnected): whatever is still connected once everything settled keeps the process alive.
 * `run` joins the group once `joinGate` opens, with partition 0 of every subscribed topic.
 */
function fakeKafka(options: { joinGate?: Promise<void>; connectGate?: Promise<void>; listTopicsGate?: Promise<void> } = {}) {
  const open = { admin: 0, consumer: 0, producer: 0 };
  const made = { admin: 0, consumer: 0, producer: 0 };
  const runs = { count: 0 };
  const client = (kind: keyof typeof open) => {
    made[kind]++;
    let connected = false;
    return {
      connect: async () => {
        await options.connectGate;
        if (!connected) open[kind]++;
        connected = true;
      },
      disconnect: async () => {
        if (connected) open[kind]--;
        connected = false;
      },
    };
  };
  const kafka = {
    producer: () => ({ ...client('producer'), sendBatch: async () => [] }),
    admin: () => ({
      ...client('admin'),
      listTopics: async () => {
        await options.listTopicsGate;
        return ['orders'];
      },
      fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: '10', offset: '10' }],
      fetchOffsets: async () => [{ topic: 'orders', partitions: [{ partition: 0, offset: '-1' }] }],
      describeCluster: async () => ({ brokers: [{ nodeId: 0 }], controller: 0 }),
      createTopics: async () => true,
      fetchTopicMetadata: async () => ({ topics: [{ name: 'orders', partitions: [{ partitionId: 0 }] }] }),
    }),
    consumer: () => {
      const emitter = new EventEmitter();
      const events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' };
      let topics: string[] = [];
      return {
        ...client('consumer'),
        events,
        on: (name: string, listener: (event: unknown) => void) => emitter.on(name, listener),
        subscribe: async (s: { topics: string[] }) => void (topics = s.topics),
        run: async () => {
          runs.count++;
          void (options.joinGate ?? Promise.resolve()).then(() =>
            emitter.emit(events.GROUP_JOIN, { payload: { memberAssignment: Object.fromEntries(topics.map((t) => [t, [0]])) } }),
          );
        },
        pause: () => {},
        resume: () => {},
        seek: () => {},
        commitOffsets: async () => {},
      };
    },
  };
  return { kafka: kafka as never, open, made, runs };
}

const sink: DeliverySink = { deliver: async () => {}, revoked: async () => {} };
const options = {
  brokers: ['127.0.0.1:1'],
  closeTimeoutMs: 50,
  requestTimeoutMs: 1_000,
  group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 100, rebalanceTimeoutMs: 1_000 },
  logger: silentLogger,
};
const settled = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error: unknown) => ({ error }));

describe('kafka broker close', () => {
  it('leaves no admin client connected when a subscribe still joining when close ended places its partitions afterwards', async () => {
    const joining = gate();
    const fake = fakeKafka({ joinGate: joining.promise });
    const broker = buildKafkaBroker(options, { createKafka: () => fake.kafka });
    const subscribed = settled(broker.subscribe({ group: 'g', topics: ['orders'] }, sink));
    while (fake.runs.count === 0) await new Promise((resolve) => setImmediate(resolve));
    await broker.close(); // the member is still joining: close does not see it
    joining.open(); // it joins, and placing partition 0 needs the admin client

    const outcome = await subscribed;
    expect(outcome).toMatchObject({ error: { code: 'closed' } });
    expect(fake.open).toEqual({ admin: 0, consumer: 0, producer: 0 });
  });

  it('connects no producer for a publish that was provisioning topics when close ran', async () => {
    const connecting = gate();
    const fake = fakeKafka({ connectGate: connecting.promise });
    const broker = buildKafkaBroker({ ...options, topics: [{ name: 'orders', partitions: 1 }] }, { createKafka: () => fake.kafka });
    const published = settled(broker.publish([{ topic: 'orders', key: 'k', value: 'v' }]));
    const closed = broker.close();
    connecting.open();
    await closed;

    expect(await published).toMatchObject({ error: { code: 'closed' } });
    expect(fake.made.producer).toBe(1); // made with the broker, never connected
    expect(fake.open).toEqual({ admin: 0, consumer: 0, producer: 0 });
  });
});

describe('record reader close', () => {
  const readerOptions = resolveKafkaOptions(options);

  it('opens no reader consumer for a read that was looking up offsets when close ran', async () => {
    const lookedUp = gate();
    const fake = fakeKafka({ listTopicsGate: lookedUp.promise });
    const admin = (fake.kafka as { admin: () => { connect: () => Promise<void> } }).admin();
    const reader = createRecordReader({ kafka: fake.kafka, admin: async () => admin as never, options: readerOptions, logger: silentLogger });
    const read = settled(reader.read({ topic: 'orders', partition: 0, from: 0, limit: 5 }));
    await reader.close();
    lookedUp.open();

    expect(await read).toMatchObject({ error: { code: 'closed' } });
    expect(fake.made.consumer).toBe(0);
  });

  it('disconnects a reader consumer whose connect finished after close, and joins nothing with it', async () => {
    const connecting = gate();
    const fake = fakeKafka({ connectGate: connecting.promise });
    const admin = { listTopics: async () => ['orders'], fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: '10' }] };
    const reader = createRecordReader({ kafka: fake.kafka, admin: async () => admin as never, options: readerOptions, logger: silentLogger });
    const read = settled(reader.read({ topic: 'orders', partition: 0, from: 0, limit: 5 }));
    while (fake.made.consumer === 0) await new Promise((resolve) => setImmediate(resolve));
    await reader.close(); // the reader consumer is still connecting
    connecting.open();

    expect(await read).toMatchObject({ error: { code: 'closed' } });
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(fake.runs.count).toBe(0);
    expect(fake.open.consumer).toBe(0);
  });
});
