import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { jsonLogger, partitionForKey } from '@herald/core';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import type { KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker, resolveKafkaOptions } from '../src/index.js';
import type { KafkaBroker } from '../src/index.js';
import { createKafkaClient } from '../src/internal/client.js';
import { createRecordReader } from '../src/internal/recordReader.js';
import type { KafkaRecordReader } from '../src/internal/recordReader.js';
import { partitionCount, unique } from './helpers.js';

let mock: KafkaMock;
let writer: KafkaBroker;
let reader: KafkaRecordReader | undefined;
let admin: Admin | undefined;

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1 });
  writer = kafkaBroker({ brokers: mock.brokers, logger: jsonLogger({ level: 'error' }) });
});

afterAll(async () => {
  await reader?.close();
  await admin?.disconnect();
  await writer?.close();
  await mock?.stop();
});

describe('the record reader on the mock cluster', () => {
  it('keeps every other partition of the topic paused after a read, not only the one it read', async () => {
    const topic = unique('read');
    const records = Array.from({ length: 40 }, (_, i) => ({ topic, key: `order-${i}`, value: String(i) }));
    await writer.publish(records);
    const partitions = await partitionCount(mock.brokers, topic);
    expect(partitions).toBeGreaterThan(1);
    const onPartition = (p: number) => records.filter((r) => partitionForKey(r.key, partitions) === p).map((r) => r.value);

    const options = resolveKafkaOptions({ brokers: mock.brokers, logger: jsonLogger({ level: 'error' }), fetch: { maxWaitMs: 10 } });
    const kafka = createKafkaClient(options);
    // the reader's consumer is internal: keep a handle on it to ask kafkajs what it fetches
    let consumer: Consumer | undefined;
    const watched = Object.create(kafka) as Kafka;
    watched.consumer = (config) => (consumer = kafka.consumer(config));
    admin = kafka.admin();
    await admin.connect();
    reader = createRecordReader({ kafka: watched, admin: async () => admin!, options, logger: options.logger });

    const all = Array.from({ length: partitions }, (_, p) => p);
    const paused = () => consumer!.paused().find((tp) => tp.topic === topic)?.partitions ?? [];

    const first = await reader.read({ topic, partition: 0, from: 0, limit: 100 });
    expect(first.map((d) => d.value)).toEqual(onPartition(0));
    expect(paused(), 'nothing is fetched between reads').toEqual(all);

    const second = await reader.read({ topic, partition: 1, from: 0, limit: 100 });
    expect(second.map((d) => d.value)).toEqual(onPartition(1));
    expect(paused()).toEqual(all);
  });
});
