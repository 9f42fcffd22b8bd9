import { setMaxListeners } from 'node:events';
import type { Delivery, TopicPartition } from '../ports/broker.js';
import type { DispatchSignals } from './dispatcher.js';
import { OffsetTracker } from './offsets.js';

const REVOKED = new Error('partition revoked');

/**
 * The consumer's work on one partition: a FIFO queue per key (per-key order), the keys waiting for
 * a concurrency slot, the running count, the offsets still outstanding, and the signals its
 * dispatches get: `halt` aborts when the partition is revoked or the consumer closes, and its
 * deliveries then stop being tried again (left uncommitted, for the partition's next owner).
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
  readonly signals: DispatchSignals;
  private readonly revocation = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly tp: TopicPartition,
    consumer: { readonly closing: AbortSignal; readonly stop: AbortSignal },
  ) {
    const halt = AbortSignal.any([consumer.closing, this.revocation.signal]);
    // every delivery of the partition retrying at once may wait on it (each removing its listener)
    setMaxListeners(0, halt);
    this.signals = { ...consumer, halt };
  }

  get revoked(): boolean {
    return this.revocation.signal.aborted;
  }

  /** Marks the partition revoked: its deliveries stop being tried again, and their waits end. */
  revoke(): void {
    this.revocation.abort(REVOKED);
  }

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

/** Resolves once every partition of `works` is idle, or when `stop` aborts; leaves no listener on `stop`. */
export async function idleOrStopped(works: readonly PartitionWork[], stop: AbortSignal): Promise<void> {
  if (stop.aborted) return;
  let onStop = () => {};
  const stopped = new Promise<void>((resolve) => {
    onStop = () => resolve();
    stop.addEventListener('abort', onStop, { once: true });
  });
  try {
    await Promise.race([Promise.all(works.map((p) => p.idle())), stopped]);
  } finally {
    stop.removeEventListener('abort', onStop);
  }
}
