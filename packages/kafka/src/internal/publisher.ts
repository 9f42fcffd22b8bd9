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
 * resolves once every chunk holding its records was acknowledged. A retriable failure rejects the
 * calls with records in the failed chunk or after it, never one already acknowledged; a refusal
 * for good (`event-too-large`...) rejects only the calls whose own records the broker refuses.
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

  /**
   * Sends the calls' records in size-bounded chunks, in call order; a call resolves once every
   * chunk holding its records was acknowledged. A retriable failure rejects every call not yet
   * resolved, sending nothing more (so no later chunk overtakes it). A refusal for good (a record
   * too large, a topic refused) is about some records only: a chunk holding records of several calls
   * is sent again one call's part at a time, so only the calls whose own records are refused get the
   * refusal, and the others, and later chunks, go on. (Resending may duplicate what the refused
   * request wrote to other partitions; inboxes absorb it.)
   */
  async function send(calls: readonly Call[]): Promise<void> {
    const records = calls.flatMap((call) => call.records);
    const owners = calls.flatMap((call) => call.records.map(() => call));
    /** Calls not settled yet, with how many of their records await an acknowledgement. */
    const open = new Map(calls.map((call) => [call, call.records.length]));
    const acknowledged = (call: Call, count: number) => {
      const left = open.get(call)! - count;
      open.set(call, left);
      if (left > 0) return;
      open.delete(call);
      call.resolve();
    };
    const refused = (call: Call, error: HeraldError) => {
      open.delete(call);
      call.reject(error);
    };
    const failOpen = (error: HeraldError) => {
      for (const call of open.keys()) call.reject(error);
    };
    let at = 0;
    for (const chunk of chunkBySize(records, options.maxRequestBytes)) {
      // the records of a call already refused are not sent
      const parts = byCall(chunk, owners.slice(at, (at += chunk.length))).filter((part) => open.has(part.call));
      if (parts.length === 0) continue;
      const failure = await sendChunk(parts.flatMap((part) => part.records));
      if (failure === undefined) {
        for (const part of parts) acknowledged(part.call, part.records.length);
        continue;
      }
      if (failure.retriable) return failOpen(failure);
      if (parts.length === 1) {
        refused(parts[0]!.call, failure);
        continue;
      }
      // refused for good: find whose records the broker refuses
      for (const part of parts) {
        const alone = await sendChunk(part.records);
        if (alone === undefined) acknowledged(part.call, part.records.length);
        else if (alone.retriable) return failOpen(alone);
        else refused(part.call, alone);
      }
    }
  }

  /** One produce request; the failure as a HeraldError, or undefined once every partition acknowledged. */
  async function sendChunk(chunk: readonly OutgoingRecord[]): Promise<HeraldError | undefined> {
    try {
      const acknowledged = await producer.sendBatch({ topicMessages: byTopic(chunk), acks: -1, compression, timeout: options.requestTimeoutMs });
      checkAcknowledged(chunk, acknowledged, partitionCounts);
      return undefined;
    } catch (error) {
      const topics = [...new Set(chunk.map((record) => `'${record.topic}'`))].join(', ');
      return toHeraldError(error, `publishing ${chunk.length} records to ${topics}`);
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

/** The consecutive records of one call within a chunk, in order. */
function byCall(chunk: readonly OutgoingRecord[], owners: readonly Call[]): { call: Call; records: OutgoingRecord[] }[] {
  const parts: { call: Call; records: OutgoingRecord[] }[] = [];
  chunk.forEach((record, i) => {
    const last = parts.at(-1);
    if (last?.call === owners[i]) last.records.push(record);
    else parts.push({ call: owners[i]!, records: [record] });
  });
  return parts;
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
