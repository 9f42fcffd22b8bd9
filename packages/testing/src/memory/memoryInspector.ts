import type { BrokerInspector, PartitionLag, TopicDescription } from '@herald/core';
import { tpKey, type MemoryGroup } from './memoryGroup.js';
import type { MemoryLog } from './memoryLog.js';

/**
 * The read side of the in-memory log: topics with their offsets (start is always 0: nothing is
 * deleted, so retention is null), and groups with their live members and committed offsets. A
 * partition a member was given but never committed on has no committed offset (`null`), as on
 * Kafka; the existing topics named in `describeGroup`'s `topics` are described whole, committed
 * on or not. Reads the shared state directly, so any handle sees every handle's groups.
 */
export function inspectMemoryLog(log: MemoryLog, groups: ReadonlyMap<string, MemoryGroup>): BrokerInspector {
  return {
    async describeTopics(names) {
      const wanted = names === undefined ? log.names() : [...new Set(names)].filter((name) => log.has(name)).sort();
      return wanted.map(
        (name): TopicDescription => ({
          name,
          partitions: log.topic(name).map((p, partition) => ({ partition, start: 0, end: p.records.length })),
          retentionMs: null,
          retentionBytes: null,
        }),
      );
    },

    async listGroups() {
      return [...groups].filter(([, g]) => g.members.length > 0 || g.committed.size > 0).map(([name]) => name).sort();
    },

    async describeGroup(name, options) {
      const group = groups.get(name);
      const held = group ? [...group.committed.keys()].map((key) => key.slice(0, key.lastIndexOf(':'))) : [];
      const named = (options?.topics ?? []).filter((topic) => log.has(topic));
      const topics = [...new Set([...held, ...named])].sort();
      const partitions = topics.flatMap((topic) =>
        log.topic(topic).map((p, partition): PartitionLag => {
          const committed = group?.committed.get(tpKey(topic, partition)) ?? null;
          const end = p.records.length;
          return { topic, partition, committed, end, lag: Math.max(0, end - (committed ?? 0)) };
        }),
      );
      return { group: name, members: group?.members.length ?? 0, partitions, totalLag: partitions.reduce((sum, p) => sum + p.lag, 0) };
    },
  };
}
