import type { Kafka } from 'kafkajs';
import { CoreErrors, HeraldError, uuidv7 } from '@herald/core';
import { undecodableBatchOf } from './compression/undecodable.js';

/** Prefix of the throwaway groups timestamp scans run under (see `isInternalGroup`). */
export const SCAN_GROUP_PREFIX = 'herald-scan-';

/** The readable offsets of one partition: `low` is the first kept record, `high` the next to be written. */
export interface OffsetRange {
  readonly low: number;
  readonly high: number;
}

export interface ScanOptions {
  readonly topic: string;
  readonly timestamp: number;
  readonly ranges: ReadonlyMap<number, OffsetRange>;
  readonly timeoutMs: number;
  readonly maxWaitMs: number;
}

/**
 * Finds, per partition, the first offset whose record time is at least `timestamp` by reading the
 * partitions from their start: the fallback for brokers that cannot answer ListOffsets by time
 * (librdkafka's mock cluster answers -1 for every timestamp). A partition with no such record
 * resolves to its `high` offset, as Kafka's own lookup does. A batch no codec could decompress is
 * judged by its header's latest record time: the offset found is its first when that time is not
 * below `timestamp`. Reads with a throwaway consumer group that never commits; bounded by `timeoutMs`.
 */
export async function scanForTimestamp(kafka: Kafka, options: ScanOptions): Promise<Map<number, number>> {
  const { topic, timestamp, ranges } = options;
  const found = new Map<number, number>();
  const pending = new Set<number>();
  for (const [partition, range] of ranges) {
    if (range.high > range.low) pending.add(partition);
    else found.set(partition, range.high);
  }
  if (pending.size === 0) return found;

  const consumer = kafka.consumer({ groupId: `${SCAN_GROUP_PREFIX}${uuidv7()}`, maxWaitTimeInMs: options.maxWaitMs, allowAutoTopicCreation: false });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const done = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new HeraldError(CoreErrors.timeout, `kafka: scanning '${topic}' for timestamp ${timestamp} took over ${options.timeoutMs} ms`, { retriable: true })),
        options.timeoutMs,
      );
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (!pending.has(batch.partition)) return;
          const high = ranges.get(batch.partition)!.high;
          for (const message of batch.messages) {
            const undecodable = undecodableBatchOf(message);
            if (undecodable) {
              // its record times are unknown: start at the batch unless all of it is older than the time sought
              const range = ranges.get(batch.partition)!;
              const skip = undecodable.maxTimestamp < timestamp;
              if (!skip || undecodable.lastOffset + 1 >= high) {
                found.set(batch.partition, skip ? high : Math.min(Math.max(undecodable.firstOffset, range.low), high));
                pending.delete(batch.partition);
                break;
              }
              continue;
            }
            const offset = Number(message.offset);
            if (Number(message.timestamp) >= timestamp || offset >= high) {
              found.set(batch.partition, Math.min(offset, high));
              pending.delete(batch.partition);
              break;
            }
            if (offset + 1 >= high) {
              found.set(batch.partition, high);
              pending.delete(batch.partition);
              break;
            }
          }
          // control records (transaction markers) never reach `messages` but still take offsets
          if (pending.has(batch.partition) && Number(batch.lastOffset()) + 1 >= high) {
            found.set(batch.partition, high);
            pending.delete(batch.partition);
          }
          if (pending.size === 0) resolve();
        },
      }).catch(reject);
    });
    await done;
    return found;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
}
