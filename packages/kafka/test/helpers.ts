import { Kafka, logLevel } from 'kafkajs';
import type { Delivery, DeliveryBatch, DeliverySink, TopicPartition } from '@herald/core';

/** A sink that records what it is given and checks the port's batch shape as it goes. */
export interface RecordingSink extends DeliverySink {
  readonly batches: DeliveryBatch[];
  readonly deliveries: Delivery[];
  readonly assignedLog: TopicPartition[][];
  readonly revokedLog: TopicPartition[][];
  /** Problems seen (a batch mixing partitions, offsets going down inside a batch). */
  readonly problems: string[];
}

export function recordingSink(): RecordingSink {
  const sink: RecordingSink = {
    batches: [],
    deliveries: [],
    assignedLog: [],
    revokedLog: [],
    problems: [],
    async deliver(batch) {
      sink.batches.push(batch);
      let previous = -1;
      for (const d of batch.deliveries) {
        if (d.topic !== batch.topic || d.partition !== batch.partition) sink.problems.push(`batch ${batch.topic}/${batch.partition} holds ${d.topic}/${d.partition}`);
        if (d.offset <= previous) sink.problems.push(`offsets not ascending in ${batch.topic}/${batch.partition}: ${previous} then ${d.offset}`);
        previous = d.offset;
        sink.deliveries.push(d);
      }
    },
    assigned(partitions) {
      sink.assignedLog.push([...partitions]);
    },
    async revoked(partitions) {
      sink.revokedLog.push([...partitions]);
    },
  };
  return sink;
}

/** Polls `condition` every 10 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Unique topic/group names so tests sharing one mock cluster never see each other's records. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Partition count of a topic as the cluster reports it (read with a plain client, independent of the adapter). */
export async function partitionCount(brokers: readonly string[], topic: string): Promise<number> {
  const admin = new Kafka({ brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]!.partitions.length;
  } finally {
    await admin.disconnect();
  }
}
