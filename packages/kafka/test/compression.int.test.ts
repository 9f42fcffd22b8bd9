import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { canReadRecords, jsonLogger, type HeldPartition } from '@herald/core';
import type { Logger } from '@herald/core';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import type { KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker, KafkaErrors, resolveKafkaOptions } from '../src/index.js';
import type { KafkaBroker, KafkaBrokerOptions } from '../src/index.js';
import { createKafkaClient } from '../src/internal/client.js';
import { scanForTimestamp } from '../src/internal/timestampScan.js';
import { recordingSink, unique, waitFor } from './helpers.js';

const run = promisify(execFile);
const { Kafka, CompressionCodecs, CompressionTypes, logLevel } = kafkajs;

let mock: KafkaMock;
const brokers: KafkaBroker[] = [];

interface LogLine {
  level: string;
  msg: string;
  error?: { code?: string; message?: string };
}

/** A broker tuned for the mock (see kafkaBroker.int.test.ts) whose log lines are kept in `lines`. */
function open(lines: LogLine[] = [], overrides: Partial<KafkaBrokerOptions> = {}): KafkaBroker {
  const logger: Logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as LogLine) });
  const broker = kafkaBroker({
    brokers: mock.brokers,
    logger,
    fetch: { maxWaitMs: 10 },
    group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
    ...overrides,
  });
  brokers.push(broker);
  return broker;
}

/** Writes `values` to partition 0 of `topic` in one batch with librdkafka (kcat), compressed with `codec`. */
async function kcatWrite(topic: string, codec: string, values: readonly string[]): Promise<void> {
  const child = run('kcat', ['-P', '-b', mock.brokers[0]!, '-t', topic, '-p', '0', '-z', codec, '-K', '\t']);
  child.child.stdin!.end(values.map((v, i) => `k${i}\t${v}\n`).join(''));
  await child;
}

type Table = Record<number, (() => unknown) | undefined>;

/**
 * Writes one batch to partition 0 of `topic` with a plain kafkajs producer whose codec for `codecId`
 * returns `payload` instead of compressing: the batch names the codec, its data is `payload`. The
 * codec table is kafkajs's own (shared with the adapter), so the entry is put back before returning.
 */
async function writeBatchWithPayload(topic: string, codecId: number, payload: Buffer, count: number, timestamp = Date.now()): Promise<void> {
  const table = CompressionCodecs as unknown as Table;
  const saved = table[codecId];
  const producer = new Kafka({ brokers: [...mock.brokers], logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: true });
  await producer.connect();
  table[codecId] = () => ({ compress: async () => payload });
  try {
    const messages = Array.from({ length: count }, (_, i) => ({ key: `bad-${i}`, value: `lost-${i}`, partition: 0, timestamp: String(timestamp + i) }));
    await producer.send({ topic, acks: -1, compression: codecId as typeof CompressionTypes.None, messages });
  } finally {
    table[codecId] = saved;
    await producer.disconnect();
  }
}

/** Writes `values` uncompressed to partition 0 of `topic`, one batch. */
async function writePlain(topic: string, values: readonly string[], timestamp = Date.now()): Promise<void> {
  const producer = new Kafka({ brokers: [...mock.brokers], logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ key: 'k', value, partition: 0, timestamp: String(timestamp) })) });
  } finally {
    await producer.disconnect();
  }
}

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1 });
});

afterAll(async () => {
  await Promise.allSettled(brokers.map((b) => b.close()));
  await mock?.stop();
});

/** The `record-batch-undecodable` errors logged so far, by message. */
const undecodableLogged = (lines: readonly LogLine[]) => lines.filter((l) => l.level === 'error' && l.error?.code === KafkaErrors.batchUndecodable.code).map((l) => l.error!.message!);

describe('records compressed by other producers', () => {
  it('delivers snappy, lz4 and zstd batches written by librdkafka intact, and the group\'s other topic flows', async () => {
    const codecs = ['snappy', 'lz4', 'zstd'] as const;
    const topics = Object.fromEntries(codecs.map((c) => [c, unique(c)])) as Record<(typeof codecs)[number], string>;
    const control = unique('plain');
    // several records per batch, multibyte text, and one value over 64 KiB (several LZ4 blocks)
    const values = (codec: string) => [`{"n":1,"codec":"${codec}"}`, `{"n":2,"text":"café ✓"}`, `{"n":3,"big":"${'abcdefghij'.repeat(7_000)}"}`];
    for (const codec of codecs) await kcatWrite(topics[codec], codec, values(codec));

    const lines: LogLine[] = [];
    const broker = open(lines);
    const sink = recordingSink();
    const sub = await broker.subscribe({ group: unique('g'), topics: [...Object.values(topics), control] }, sink);
    await broker.publish([{ topic: control, key: 'k', value: 'uncompressed' }]);
    await waitFor('every record', () => sink.deliveries.length >= 3 * codecs.length + 1, 30_000);
    await sub.close();

    for (const codec of codecs) {
      expect(sink.deliveries.filter((d) => d.topic === topics[codec]).map((d) => d.value), codec).toEqual(values(codec));
    }
    expect(sink.deliveries.filter((d) => d.topic === control).map((d) => d.value)).toEqual(['uncompressed']);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('holds a partition before a batch that cannot be decompressed, with record-batch-undecodable naming it, while the rest of the group flows', async () => {
    // a codec id Kafka does not define, corrupt snappy data, corrupt gzip data (kafkajs's own codec)
    const bad = [
      { topic: unique('codec-5'), codecId: 5, codec: 'codec id 5' },
      { topic: unique('bad-snappy'), codecId: CompressionTypes.Snappy, codec: 'snappy' },
      { topic: unique('bad-gzip'), codecId: CompressionTypes.GZIP, codec: 'gzip' },
    ];
    const control = unique('plain');
    for (const { topic, codecId } of bad) {
      await writePlain(topic, ['before']); // offset 0
      await writeBatchWithPayload(topic, codecId, Buffer.from('this is not compressed data at all'), 2); // offsets 1 and 2
      await writePlain(topic, ['after']); // offset 3
    }

    const lines: LogLine[] = [];
    const broker = open(lines);
    const held: HeldPartition[] = [];
    const sink = Object.assign(recordingSink(), { held: (h: HeldPartition) => void held.push(h) });
    const sub = await broker.subscribe({ group: unique('g'), topics: [...bad.map((b) => b.topic), control] }, sink);
    await waitFor('an error for each batch', () => undecodableLogged(lines).length >= bad.length);
    // published after the partitions were held: the group still reads
    await broker.publish([{ topic: control, key: 'k', value: 'flows' }]);
    await waitFor('the other topic', () => sink.deliveries.some((d) => d.topic === control));

    // the sink is told once per hold, where it starts (what metrics and alerts see)
    expect(held.map((h) => [h.topic, h.partition, h.offset, (h.error as { code?: string }).code]).sort()).toEqual(bad.map((b) => [b.topic, 0, 1, KafkaErrors.batchUndecodable.code]).sort());
    for (const { topic, codec } of bad) {
      expect(sink.deliveries.filter((d) => d.topic === topic).map((d) => d.value), topic).toEqual(['before']);
      expect(undecodableLogged(lines).filter((m) => m.includes(`'${topic}'/0`))).toEqual([
        expect.stringMatching(new RegExp(`records 1\\.\\.2 of '${topic}'/0 cannot be read: a record batch compressed with ${codec} that did not decompress \\(.+\\)`)),
      ]);
    }
    await sub.close();

    // a reader (herald tail) sees the records before the batch, then the same error
    if (!canReadRecords(broker)) throw new Error('the Kafka broker reads records');
    const { topic, codec } = bad[1]!;
    expect((await broker.read({ topic, partition: 0, from: 0, limit: 10 })).map((d) => d.value)).toEqual(['before']);
    await expect(broker.read({ topic, partition: 0, from: 1, limit: 10 })).rejects.toMatchObject({
      code: KafkaErrors.batchUndecodable.code,
      message: expect.stringContaining(`records 1..2 of '${topic}'/0 cannot be read: a record batch compressed with ${codec} that did not decompress`),
    });
  });

  it('fails a read whose consumer crashed with the crash\'s error', async () => {
    // a codec the application registered after the adapter, whose factory throws: kafkajs fails the
    // whole fetch and the reader's consumer crashes; kafkajs then refuses pause ("Consumer group was
    // not initialized"), which must not replace the crash's error
    const topic = unique('crash');
    await writeBatchWithPayload(topic, 6, Buffer.from('whatever'), 1);
    const table = CompressionCodecs as unknown as Table;
    const broker = open([], { retries: 0 });
    if (!canReadRecords(broker)) throw new Error('the Kafka broker reads records');
    const saved = table[6];
    table[6] = () => {
      throw new Error('the application codec broke');
    };
    try {
      await expect(broker.read({ topic, partition: 0, from: 0, limit: 10 })).rejects.toThrow(/the application codec broke/);
    } finally {
      table[6] = saved;
    }
  });

  it('starts a timestamp scan at a batch that cannot be decompressed when its latest record time reaches the time sought', async () => {
    const topic = unique('scan');
    await writePlain(topic, ['before'], 1_000); // offset 0
    await writeBatchWithPayload(topic, 5, Buffer.from('not compressed'), 2, 2_000); // offsets 1 and 2, times 2000 and 2001
    await writePlain(topic, ['after'], 3_000); // offset 3
    const options = resolveKafkaOptions({ brokers: mock.brokers, logger: jsonLogger({ level: 'error' }), fetch: { maxWaitMs: 10 } });
    const kafka = createKafkaClient(options);
    const scan = (timestamp: number) => scanForTimestamp(kafka, { topic, timestamp, ranges: new Map([[0, { low: 0, high: 4 }]]), timeoutMs: 20_000, maxWaitMs: 10 });
    // the batch's latest record is at 2001, but which record that is, and where earlier ones are, is unknown: start at its first
    expect((await scan(2_001)).get(0)).toBe(1);
    // every record of the batch is older than 2500
    expect((await scan(2_500)).get(0)).toBe(3);
  });
});
