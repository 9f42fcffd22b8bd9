import type { Delivery } from '../ports/broker.js';
import type { DispatchBatch } from './batchDispatcher.js';
import type { PartitionWork } from './partitionWork.js';
import { retryUntilHalted, type RetryDeps } from './retryUntilHalted.js';

export interface BatchRunnerOptions extends RetryDeps {
  readonly dispatchBatch: DispatchBatch;
  /** Most deliveries per batch. */
  readonly maxBatch: number;
  /** Gives back the group consumer's in-flight slots of `count` deliveries taken off a partition's queue. */
  readonly release: (count: number) => void;
}

/** The batch mode of a group consumer, over the deliveries it queues in each partition's `batchQueue`. */
export interface BatchRunner {
  /** Starts on the partition's queued deliveries, unless it is revoked or its batches run already. */
  start(p: PartitionWork): void;
}

/**
 * Runs a group consumer's batch mode: per partition, up to `maxBatch` consecutive queued
 * deliveries go to `dispatchBatch` at once, one batch at a time in offset order (so per-key order
 * holds), each tried again until it is done (see {@link retryUntilHalted}). Once the partition
 * halts (the consumer closing, the partition revoked), a batch commits what it settled, and the
 * rest of it and the deliveries still queued are left uncommitted, for the partition's next owner.
 */
export function createBatchRunner(options: BatchRunnerOptions): BatchRunner {
  const { dispatchBatch, maxBatch, release } = options;

  /**
   * Runs a batch until it completes, each try with the deliveries the tries before did not settle
   * (so none is attempted or recorded twice). Returns the offsets settled: all of them, or, when
   * abandoned (the consumer closing, the partition revoked), those settled by then.
   */
  async function handleBatch(p: PartitionWork, deliveries: readonly Delivery[]): Promise<ReadonlySet<number>> {
    const settled = new Set<number>();
    const batchSignals = { ...p.signals, settled: (delivery: Delivery) => void settled.add(delivery.offset) };
    const remaining = () => (settled.size === 0 ? deliveries : deliveries.filter((d) => !settled.has(d.offset)));
    const done = await retryUntilHalted(options, {
      partition: p,
      what: 'batch',
      attempt: () => dispatchBatch(remaining(), batchSignals),
      where: () => {
        const rest = remaining();
        const first = rest[0] ?? deliveries[0]!;
        return { topic: first.topic, partition: first.partition, offset: first.offset, size: rest.length };
      },
    });
    return done ? new Set(deliveries.map((d) => d.offset)) : settled;
  }

  /** One batch at a time per partition, in offset order. */
  async function runBatches(p: PartitionWork): Promise<void> {
    p.running++;
    try {
      while (p.batchQueue.length > 0 && !p.signals.halt.aborted) {
        const batch = p.batchQueue.splice(0, maxBatch);
        const settled = await handleBatch(p, batch);
        release(batch.length);
        // all of them, or those settled before it was abandoned: committed, not handled again
        for (const delivery of batch) if (settled.has(delivery.offset)) p.complete(delivery.offset);
        if (settled.size < batch.length) break;
      }
    } finally {
      if (p.batchQueue.length > 0 && p.signals.halt.aborted) release(p.dropWaiting());
      p.running--;
      p.notifyIdle();
      // deliveries that arrived while the last batch ran
      if (p.batchQueue.length > 0 && p.running === 0) void runBatches(p);
    }
  }

  return {
    start(p) {
      if (p.running === 0 && !p.revoked) void runBatches(p);
    },
  };
}
