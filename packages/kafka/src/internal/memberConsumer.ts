import type { Consumer, Kafka } from 'kafkajs';
import type { ResolvedKafkaOptions } from '../options.js';
import { roundRobinToEveryMember } from './assigner.js';

export interface MemberConsumerConfig {
  readonly group: string;
  readonly options: ResolvedKafkaOptions;
  /** Whether the member is closing: kafkajs then does not restart itself after a failure. */
  readonly closing: () => boolean;
}

/**
 * The kafkajs consumer of one group membership, set from the adapter's resolved options: group
 * timings, fetch sizes, the round-robin assigner that gives every member partitions, and kafkajs's
 * own restart after a failure, which stops once the member is closing.
 */
export function createMemberConsumer(kafka: Kafka, { group, options, closing }: MemberConsumerConfig): Consumer {
  return kafka.consumer({
    groupId: group,
    sessionTimeout: options.group.sessionTimeoutMs,
    heartbeatInterval: options.group.heartbeatIntervalMs,
    rebalanceTimeout: options.group.rebalanceTimeoutMs,
    maxWaitTimeInMs: options.fetch.maxWaitMs,
    minBytes: options.fetch.minBytes,
    maxBytes: options.fetch.maxBytes,
    maxBytesPerPartition: options.fetch.maxBytesPerPartition,
    allowAutoTopicCreation: true,
    partitionAssigners: [roundRobinToEveryMember()],
    retry: { retries: options.retries, restartOnFailure: async () => !closing() },
  });
}
