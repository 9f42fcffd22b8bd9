import { CompressionTypes } from 'kafkajs';
import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { partitionForKey } from '@herald/core';
import type { OutgoingRecord } from '@herald/core';
import { toHeraldError } from './errors.js';

export interface Publisher {
  publish(records: readonly OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface PublisherOptions {
  readonly compression: 'none' | 'gzip';
  readonly retries: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestBytes: number;
}

/** Bytes a record costs in a produce request beyond its key, value and headers (a generous estimate). */
const RECORD_OVERHEAD_BYTES = 70;

/**
 * The producing half of the adapter. Every record goes to `partitionForKey(key, partitions)` (the
 * embedded log's partitioner, Kafka's murmur2), with acks=all. At most one produce request is in
 * flight per broker connection and the chunks of one call are sent one after another, so kafkajs'
 * retries can never overtake an earlier batch: records of one key keep their order within a call
 * and across awaited calls (the idempotent producer would allow more in flight, but not every
 * Kafka-protocol broker offers it).
 */
export function createPublisher(kafka: Kafka, options: PublisherOptions): Publisher {
  const producer: Producer = kafka.producer({
    createPartitioner: () => ({ partitionMetadata, message }) => partitionForKey(String(message.key ?? ''), partitionMetadata.length),
    maxInFlightRequests: 1,
    idempotent: false,
    allowAutoTopicCreation: true,
    retry: { retries: options.retries },
  });
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  let connected: Promise<void> | undefined;

  function connect(): Promise<void> {
    connected ??= producer.connect().catch((error: unknown) => {
      connected = undefined;
      throw toHeraldError(error, 'connecting the producer');
    });
    return connected;
  }

  return {
    async publish(records) {
      if (records.length === 0) return;
      await connect();
      for (const chunk of chunkBySize(records, options.maxRequestBytes)) {
        try {
          await producer.sendBatch({ topicMessages: byTopic(chunk), acks: -1, compression, timeout: options.requestTimeoutMs });
        } catch (error) {
          throw toHeraldError(error, `publishing ${chunk.length} records`);
        }
      }
    },
    async close() {
      if (connected) await connected.catch(() => {});
      await producer.disconnect();
    },
  };
}

/** Splits records, in order, into runs whose estimated size stays under `maxBytes` (a record larger than that goes alone). */
export function chunkBySize(records: readonly OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const chunks: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let size = 0;
  for (const record of records) {
    const bytes = estimateBytes(record);
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(record);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function estimateBytes(record: OutgoingRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + Buffer.byteLength(record.key) + Buffer.byteLength(record.value);
  for (const [name, value] of Object.entries(record.headers ?? {})) bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  return bytes;
}

/** Groups records by topic, keeping each topic's records in their original order. */
function byTopic(records: readonly OutgoingRecord[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const record of records) {
    let messages = topics.get(record.topic);
    if (!messages) topics.set(record.topic, (messages = []));
    const message: Message = { key: record.key, value: record.value };
    if (record.headers) message.headers = { ...record.headers };
    if (record.timestamp !== undefined) message.timestamp = String(record.timestamp);
    messages.push(message);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}
