import type { Admin } from 'kafkajs';
import type { InspectDeps } from './deps.js';
import { isInternalTopic } from './deps.js';

/** Committed offset per partition, per topic. */
export type Committed = Map<string, Map<number, number>>;

/**
 * Where `group` has committed: for each topic with at least one committed partition, the offset
 * committed per partition (partitions it never committed on are absent). A real broker answers
 * an OffsetFetch without topics with every topic the group committed on; the mock cluster answers
 * it with nothing, so until one such answer proves the broker knows, a group without an answer is
 * asked about every topic, and a broker that stays silent while the per-topic answer is not is
 * remembered (once, logged) as one to ask per topic.
 */
export async function committedOffsets(deps: InspectDeps, admin: Admin, group: string): Promise<Committed> {
  const { support } = deps;
  if (support.fetchAllOffsets !== false) {
    const all = commitsOf(await admin.fetchOffsets({ groupId: group }));
    if (all.size > 0) support.fetchAllOffsets = true;
    if (support.fetchAllOffsets === true) return all;
  }
  const topics = (await admin.listTopics()).filter((t) => !isInternalTopic(t));
  if (topics.length === 0) return new Map();
  const perTopic = commitsOf(await admin.fetchOffsets({ groupId: group, topics }));
  if (perTopic.size > 0 && support.fetchAllOffsets === undefined) {
    support.fetchAllOffsets = false;
    deps.logger.debug("kafka: the broker does not name the topics a group committed on; asking about every topic instead");
  }
  return perTopic;
}

function commitsOf(answer: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>): Committed {
  const committed: Committed = new Map();
  for (const { topic, partitions } of answer) {
    // -1: no commit on that partition
    const mine = partitions.filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)] as const);
    if (mine.length > 0) committed.set(topic, new Map(mine));
  }
  return committed;
}
