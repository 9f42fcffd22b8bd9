import type { Admin } from 'kafkajs';
import type { PartitionRange } from '@herald/core';

/**
 * Each topic's partitions with their first and next offsets (ListOffsets), in partition order.
 * Asked one topic at a time, on purpose: kafkajs refreshes the client's shared metadata for each
 * topic it has not been asked about before, and with several asks in flight a refresh that started
 * before a topic was added can land after the one that added it. That topic then reads as having no
 * partitions and kafkajs fails on the empty answer (a TypeError about `high.pop()`).
 */
export async function topicRanges(admin: Admin, topics: readonly string[]): Promise<Map<string, PartitionRange[]>> {
  const ranges = new Map<string, PartitionRange[]>();
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    ranges.set(topic, offsets.map((o) => ({ partition: o.partition, start: Number(o.low), end: Number(o.high) })).sort((a, b) => a.partition - b.partition));
  }
  return ranges;
}
