import type { Batch, EachBatchPayload } from 'kafkajs';
import type { Delivery, DeliverySink, Logger, TopicPartition } from '@herald/core';
import { undecodableBatchOf, undecodableError } from './compression/undecodable.js';
import type { UndecodableBatch } from './compression/undecodable.js';
import { toDelivery } from './delivery.js';
import type { PartitionFeed } from './partitionFeed.js';

export interface BatchIntakeDeps {
  readonly feed: PartitionFeed;
  readonly sink: DeliverySink;
  readonly logger: Logger;
  /** Whether a fetched batch of this partition is still this member's to deliver. */
  readonly accepts: (tp: TopicPartition) => boolean;
}

/**
 * kafkajs's `eachBatch`: turns a fetched batch into deliveries and queues them on the feed, which
 * delivers them (so it returns at once and kafkajs needs no concurrency of its own). A batch no
 * codec could decompress arrives as a stand-in record (see `undecodableBatchOf`) and holds its
 * partition there.
 */
export function createBatchIntake(deps: BatchIntakeDeps): (payload: EachBatchPayload) => Promise<void> {
  const { feed, sink, logger: log } = deps;

  /**
   * Stops a partition before a batch no codec could decompress: the records before it are still
   * delivered, nothing of it or after it is delivered or committed, and the other partitions go on.
   * Skipping it would lose records without a trace, and failing the member would stop every
   * partition; held, it waits for a fix (or an offset reset past it) and is read again when it
   * moves or the service restarts. Logged as an error when the hold starts.
   */
  function hold(tp: TopicPartition, batch: UndecodableBatch): void {
    const error = undecodableError(tp, batch);
    if (feed.block(tp)) {
      log.error('kafka: a record batch cannot be decompressed; its partition is held before it until the partition moves or the service restarts, the others go on', { error });
      try {
        sink.held?.({ ...tp, offset: batch.firstOffset, error });
      } catch (failure) {
        log.error('kafka: sink.held failed', { error: failure });
      }
    } else {
      log.debug('kafka: the held partition was fetched again (the client restarted); pausing it again', { error });
    }
  }

  return ({ batch, isStale }) => {
    const tp = { topic: batch.topic, partition: batch.partition };
    if (!deps.accepts(tp) || isStale()) return Promise.resolve();
    const deliveries: Delivery[] = [];
    const highWatermark = Number(batch.highWatermark);
    const fetchedAt = fetchedOffsetOf(batch);
    for (const message of batch.messages) {
      const undecodable = undecodableBatchOf(message);
      if (undecodable) {
        // the fetch's end lies past the undecodable batch: the partition must not continue there
        feed.push(tp, { deliveries, highWatermark, fetchedAt });
        hold(tp, undecodable);
        return Promise.resolve();
      }
      deliveries.push(toDelivery(tp, message));
    }
    // lastOffset counts the control records kafkajs leaves out of `messages` (transaction markers)
    feed.push(tp, { deliveries, highWatermark, fetchedAt, end: Number(batch.lastOffset()) + 1 });
    return Promise.resolve();
  };
}

/**
 * The offset kafkajs fetched `batch` from: kafkajs 2.2.4 keeps it on the batch (`fetchedOffset`)
 * without declaring it. Undefined if absent, so the feed then checks every gap with the brokers.
 */
function fetchedOffsetOf(batch: Batch): number | undefined {
  const fetched = Number((batch as { fetchedOffset?: unknown }).fetchedOffset ?? Number.NaN);
  return Number.isSafeInteger(fetched) && fetched >= 0 ? fetched : undefined;
}
