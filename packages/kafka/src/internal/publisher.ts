import { CompressionTypes } from 'kafkajs';
import type { Kafka, Message, Producer, RecordMetadata, TopicMessages } from 'kafkajs';
import { CoreErrors, HeraldError, partitionForKey } from '@herald/core';
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
 *
 * Calls made while a send is in flight are coalesced, in call order, into the next send (Kafka's
 * batching without a linger delay): a thousand concurrent one-record calls (an ingest API's
 * requests) cost a few produce requests, not a thousand round trips one after another. A call
 * resolves once every chunk holding its records was acknowledged; a chunk that fails rejects the
 * calls with records in it or after it, never one already acknowledged.
 *
 * A chunk counts as acknowledged only when kafkajs returns an acknowledgement for every partition
 * its records went to: kafkajs' retry resends only to brokers that have not answered, so when a
 * failed partition's new leader is a broker that already answered, that partition's records are
 * never sent again and `sendBatch` still resolves (tulios/kafkajs#1303). Such a chunk fails
 * retriable (`broker-unavailable`): the outbox sends it again, and inboxes absorb the duplicates of
 * the partitions that did land.
 */
export function createPublisher(kafka: Kafka, options: PublisherOptions): Publisher {
  /** Partition count of each topic at kafkajs' latest partitioning: tells where each record of a chunk went. */
  const partitionCounts = new Map<string, number>();
  const producer: Producer = kafka.producer({
    createPartitioner: () => ({ topic, partitionMetadata, message }) => {
      partitionCounts.set(topic, partitionMetadata.length);
      return partitionForKey(String(message.key ?? ''), partitionMetadata.length);
    },
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

  let waiting: Call[] = [];
  let sending: Promise<void> | undefined;

  /** Sends what was queued, then what was queued meanwhile, until nothing waits. */
  async function drain(): Promise<void> {
    while (waiting.length > 0) {
      const calls = waiting;
      waiting = [];
      try {
        await connect();
      } catch (error) {
        for (const call of calls) call.reject(error);
        continue;
      }
      await send(calls);
    }
    sending = undefined;
  }

  async function send(calls: readonly Call[]): Promise<void> {
    const records = calls.length === 1 ? calls[0]!.records : calls.flatMap((call) => call.records);
    let sent = 0;
    let settled = 0; // calls resolved so far, in order
    let covered = 0; // records of those calls
    for (const chunk of chunkBySize(records, options.maxRequestBytes)) {
      try {
        const acknowledged = await producer.sendBatch({ topicMessages: byTopic(chunk), acks: -1, compression, timeout: options.requestTimeoutMs });
        checkAcknowledged(chunk, acknowledged, partitionCounts);
      } catch (error) {
        const failure = toHeraldError(error, `publishing ${chunk.length} records`);
        for (const call of calls.slice(settled)) call.reject(failure);
        return;
      }
      sent += chunk.length;
      while (settled < calls.length && covered + calls[settled]!.records.length <= sent) {
        covered += calls[settled]!.records.length;
        calls[settled++]!.resolve();
      }
    }
  }

  return {
    publish(records) {
      if (records.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ records, resolve, reject });
        sending ??= drain();
      });
    },
    async close() {
      await sending;
      if (connected) await connected.catch(() => {});
      await producer.disconnect();
    },
  };
}

/** One `publish` call waiting for its records to be sent. */
interface Call {
  readonly records: readonly OutgoingRecord[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Throws a retriable `broker-unavailable` naming the partitions the chunk's records went to (by
 * `partitionForKey` over the partition count kafkajs partitioned with) that `acknowledged` lacks.
 */
function checkAcknowledged(chunk: readonly OutgoingRecord[], acknowledged: readonly RecordMetadata[], partitionCounts: ReadonlyMap<string, number>): void {
  const received = new Set(acknowledged.filter((m) => m.errorCode === 0).map((m) => `${m.topicName}\u0000${m.partition}`));
  const missing = new Map<string, Set<number | '?'>>();
  for (const record of chunk) {
    const count = partitionCounts.get(record.topic);
    // kafkajs partitions every topic before sending; a topic it never partitioned cannot be vouched for
    const partition = count === undefined ? '?' : partitionForKey(record.key, count);
    if (partition !== '?' && received.has(`${record.topic}\u0000${partition}`)) continue;
    let partitions = missing.get(record.topic);
    if (!partitions) missing.set(record.topic, (partitions = new Set()));
    partitions.add(partition);
  }
  if (missing.size === 0) return;
  const unacknowledged = [...missing].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
  const named = unacknowledged.map(({ topic, partitions }) => `'${topic}' partitions ${partitions.join(', ')}`).join('; ');
  throw new HeraldError(
    CoreErrors.brokerUnavailable,
    `kafka: publishing ${chunk.length} records failed: no acknowledgement came for ${named} (kafkajs does not resend a partition whose new leader had already answered); publishing again sends them`,
    { retriable: true, details: { unacknowledged } },
  );
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
