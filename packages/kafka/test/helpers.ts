import { afterAll, beforeAll } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { jsonLogger } from '@herald/core';
import type { Delivery, DeliveryBatch, DeliverySink, TopicPartition } from '@herald/core';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import type { KafkaBroker } from '../src/index.js';
import { buildKafkaBroker } from '../src/internal/buildBroker.js';

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

/**
 * A one-broker mock cluster for a file's tests (started before all, stopped after all), and
 * `open`, which makes adapters on it with this group timing (each closed after all).
 */
export function mockGroupBrokers(group: { readonly sessionTimeoutMs: number; readonly heartbeatIntervalMs: number; readonly rebalanceTimeoutMs: number }): {
  open(): KafkaBroker;
  bootstrap(): readonly string[];
} {
  let mock: KafkaMock | undefined;
  const opened: KafkaBroker[] = [];
  beforeAll(async () => {
    mock = await startKafkaMock({ brokers: 1 });
  });
  afterAll(async () => {
    await Promise.allSettled(opened.map((b) => b.close()));
    await mock?.stop();
  });
  const bootstrap = () => mock!.brokers;
  return {
    bootstrap,
    open() {
      const broker = buildKafkaBroker({ brokers: bootstrap(), logger: jsonLogger({ level: 'error' }), clientLogLevel: 'silent', fetch: { maxWaitMs: 10 }, group });
      opened.push(broker);
      return broker;
    },
  };
}
