import type { Delivery, TopicPartition } from '../ports/broker.js';
import { OffsetTracker } from './offsets.js';

/**
 * The consumer's work on one partition: a FIFO queue per key (per-key order), the keys waiting for
 * a concurrency slot, the running count, and the offsets still outstanding.
 */
export class PartitionWork {
  readonly queues = new Map<string, Delivery[]>();
  readonly waiting: string[] = [];
  /** Batch mode: deliveries not yet handed to a batch, in offset order. */
  readonly batchQueue: Delivery[] = [];
  readonly tracker = new OffsetTracker();
  running = 0;
  committed: number | undefined;
  highWatermark: number | undefined;
  revoked = false;
  private idleWaiters: (() => void)[] = [];

  constructor(readonly tp: TopicPartition) {}

  /** Resolves when no key of this partition is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  notifyIdle(): void {
    if (this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((w) => w());
  }

  /** Drops the deliveries of keys still waiting for a slot (and, in batch mode, not yet in a batch); returns how many. */
  dropWaiting(): number {
    let dropped = this.batchQueue.length;
    this.batchQueue.length = 0;
    for (const key of this.waiting) {
      dropped += this.queues.get(key)?.length ?? 0;
      this.queues.delete(key);
    }
    this.waiting.length = 0;
    return dropped;
  }

  /** The commit this partition needs, if its position moved past the last commit. */
  pendingCommit(): number | undefined {
    const position = this.tracker.position;
    return position !== undefined && position !== this.committed ? position : undefined;
  }
}

export function partitionId(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}
