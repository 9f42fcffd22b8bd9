import type { Broker, BrokerInspector, OffsetReset, RecordReader, TopicAdmin } from '@herald/core';
import type { KafkaBrokerOptions } from './options.js';
import { buildKafkaBroker } from './internal/buildBroker.js';

/** The Kafka broker: the Broker port plus topic provisioning, offset reset, inspection and reading. */
export type KafkaBroker = Broker & TopicAdmin & OffsetReset & BrokerInspector & RecordReader;

/**
 * A Broker over Apache Kafka (any Kafka-protocol cluster), with the client sealed inside: nothing
 * of kafkajs appears in this package's types, so the client can be replaced.
 *
 * Contract: `publish` resolves once every record is acknowledged by all in-sync replicas
 * (acks=all); a record goes to `partitionForKey(key, partitions)`, the embedded log's placement;
 * one key's records keep their order within a call and across awaited calls. `subscribe` joins a
 * consumer group whose offsets move only through `Subscription.commit` (at-least-once: after a
 * crash or rebalance the records after the last commit are delivered again); a group with no
 * commit starts at `start` (earliest by default). `ensureTopics` is best-effort (refused creation
 * falls back to the broker's auto-creation, logged); `resetOffsets` needs a group without live
 * members. Inspection (`describeTopics`, `listGroups`, `describeGroup`) reads through the admin
 * API without joining any group; where the brokers lack an admin API (the mock cluster) it
 * degrades, detected once and logged: retention null, groups and member counts limited to what
 * this instance runs, resets or describes. `read` (reading a partition outside the app's groups,
 * for `herald tail`) runs one consumer per topic under a throwaway group that never commits and is
 * not listed; the first read of a topic waits for its join. `close` leaves every group (revoking
 * and committing first), then disconnects; idempotent. Errors are `HeraldError`s (`broker-unavailable`, `event-too-large`, `timeout`,
 * `closed`, `group-active`, and the adapter's `KafkaErrors`: `topic-unavailable`, `topic-invalid`, `topic-not-authorized`,
 * `group-not-authorized`, `group-rebalancing`, `authentication-failed`, `record-batch-undecodable`, `compression-unsupported`).
 *
 * @example
 * const broker = kafkaBroker({ brokers: ['kafka-1:9092'], compression: 'gzip' });
 * await broker.publish([{ topic: 'orders', key: 'order-1', value: JSON.stringify(envelope) }]);
 * const sub = await broker.subscribe({ group: 'billing', topics: ['orders'] }, sink);
 */
export function kafkaBroker(options: KafkaBrokerOptions): KafkaBroker {
  return buildKafkaBroker(options);
}
