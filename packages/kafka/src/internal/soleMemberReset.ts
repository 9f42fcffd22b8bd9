import type { Kafka } from 'kafkajs';
import { CoreErrors, HeraldError } from '@herald/core';
import type { ResolvedKafkaOptions } from '../options.js';
import { roundRobinToEveryMember } from './assigner.js';
import { withTimeout } from './deadline.js';

export interface SoleMemberReset {
  readonly group: string;
  readonly topic: string;
  /** Offset to commit, per partition of `topic`. */
  readonly targets: ReadonlyMap<number, number>;
  /** Longest this attempt waits for the join to complete. */
  readonly timeoutMs: number;
}

/** A `group-active` refusal: the group has a member besides the caller. */
export function groupActive(group: string, cause?: unknown): HeraldError {
  return new HeraldError(CoreErrors.groupActive, `kafka: group '${group}' has live members; stop them before resetting offsets`, { cause });
}

/**
 * One attempt at resetting offsets by joining the group, for brokers that cannot describe groups.
 * Joining is how we learn whether the group has other members, and the join says so either way:
 * the leader receives every member (counted here by the assigner), and a follower knows another
 * member leads. Only a sole member commits; a member that joins while it commits makes the commit
 * fail with a rebalance error, and the next attempt sees that member.
 *
 * Fails with `group-active` when another member exists, with a retriable `timeout` when the join
 * does not complete within `timeoutMs`, and otherwise with the client's own error, which the
 * caller classifies (see `isRefusedSync`).
 */
export async function resetAsSoleMember(kafka: Kafka, options: ResolvedKafkaOptions, reset: SoleMemberReset): Promise<void> {
  const { group, topic, targets } = reset;
  let members: number | undefined;
  const consumer = kafka.consumer({
    groupId: group,
    sessionTimeout: options.group.sessionTimeoutMs,
    heartbeatInterval: options.group.heartbeatIntervalMs,
    rebalanceTimeout: options.group.rebalanceTimeoutMs,
    maxWaitTimeInMs: options.fetch.maxWaitMs,
    allowAutoTopicCreation: false,
    partitionAssigners: [roundRobinToEveryMember((count) => (members = count))],
    retry: { retries: options.retries, restartOnFailure: async () => false },
  });
  const joined = new Promise<{ isLeader: boolean }>((resolve, reject) => {
    let join: { isLeader: boolean } | undefined;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      consumer.pause([{ topic }]);
      join = { isLeader: payload.isLeader };
    });
    // commits are accepted once the runner is fetching, which starts right after the join
    consumer.on(consumer.events.FETCH_START, () => join && resolve(join));
    consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
  });
  joined.catch(() => {}); // awaited below; this only keeps an early crash from counting as unhandled
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
    const { isLeader } = await withTimeout(joined, reset.timeoutMs, `joining group '${group}' to reset its offsets`);
    if (!isLeader || members !== 1) throw groupActive(group);
    await consumer.commitOffsets([...targets].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })));
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}
