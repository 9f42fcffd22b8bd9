import type { TopicPartition } from '@herald/core';

/** A live member of a group and the topics it subscribed to. */
export interface MemberTopics {
  readonly id: string;
  readonly topics: readonly string[];
}

/**
 * The deterministic assignment every member computes from the same rows: partitions in (topic,
 * partition) order are dealt round-robin to the members (sorted by id) that subscribe to their
 * topic. Members that see the same live set and partition counts agree on the result without
 * talking to each other.
 */
export function assignPartitions(
  members: readonly MemberTopics[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, TopicPartition[]> {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const result = new Map<string, TopicPartition[]>(sorted.map((m) => [m.id, []]));
  const topics = [...new Set(sorted.flatMap((m) => m.topics))].sort();
  let turn = 0;
  for (const topic of topics) {
    const eligible = sorted.filter((m) => m.topics.includes(topic));
    const count = partitionCounts.get(topic) ?? 0;
    for (let partition = 0; partition < count; partition++) {
      const owner = eligible[turn++ % eligible.length]!;
      result.get(owner.id)!.push({ topic, partition });
    }
  }
  return result;
}
