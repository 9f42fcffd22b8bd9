import { partitionForKey, type Delivery, type OutgoingRecord, type StartPosition } from '@herald/core';

/** One partition of the in-memory log: records at offsets 0, 1, 2... and who waits for more. */
export interface MemoryPartition {
  readonly records: Delivery[];
  /** Called (then forgotten) at the next append. */
  readonly waiters: Set<() => void>;
}

/**
 * The shared, process-local log behind every {@link MemoryBroker} handle: topics of N partitions
 * that only grow, in records and in partitions. Offsets start at 0 and are array indexes; nothing
 * is ever deleted.
 */
export interface MemoryLog {
  /** The topic's partitions, creating the topic with `partitions` when it does not exist. */
  topic(name: string, partitions?: number): readonly MemoryPartition[];
  has(name: string): boolean;
  /** Creates the topic with `partitions`, or adds partitions up to that count; returns whether it grew. */
  grow(name: string, partitions: number): boolean;
  /** Every topic's name, in name order. */
  names(): string[];
  /** Appends records in array order, each to `partitionForKey(key, partitions)`. */
  append(records: readonly OutgoingRecord[], now: number): void;
  /** Resolves a start position to an offset of one partition. */
  position(partition: MemoryPartition, start: StartPosition): number;
}

export function createMemoryLog(defaultPartitions: number): MemoryLog {
  const topics = new Map<string, MemoryPartition[]>();

  function topic(name: string, partitions = defaultPartitions): MemoryPartition[] {
    let found = topics.get(name);
    if (!found) {
      found = Array.from({ length: partitions }, () => ({ records: [], waiters: new Set<() => void>() }));
      topics.set(name, found);
    }
    return found;
  }

  return {
    topic,
    has: (name) => topics.has(name),
    grow(name, partitions) {
      const found = topic(name, partitions);
      if (found.length >= partitions) return false;
      while (found.length < partitions) found.push({ records: [], waiters: new Set<() => void>() });
      return true;
    },
    names: () => [...topics.keys()].sort(),
    append(records, now) {
      const touched = new Set<MemoryPartition>();
      for (const record of records) {
        const partitions = topic(record.topic);
        const partition = partitionForKey(record.key, partitions.length);
        const target = partitions[partition]!;
        // frozen: every member of every group receives these very objects
        target.records.push(
          Object.freeze({
            topic: record.topic,
            partition,
            offset: target.records.length,
            key: record.key,
            value: record.value,
            headers: Object.freeze({ ...record.headers }),
            timestamp: record.timestamp ?? now,
          }),
        );
        touched.add(target);
      }
      for (const target of touched) {
        const waiters = [...target.waiters];
        target.waiters.clear();
        for (const wake of waiters) wake();
      }
    },
    position(partition, start) {
      if (start === 'earliest') return 0;
      if (start === 'latest') return partition.records.length;
      // Kafka's offsetsForTimes: the first record whose timestamp is at or after the given time
      const index = partition.records.findIndex((r) => r.timestamp >= start.timestamp);
      return index === -1 ? partition.records.length : index;
    },
  };
}
