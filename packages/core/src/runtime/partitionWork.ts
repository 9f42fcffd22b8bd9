import { setMaxListeners } from 'node:events';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Delivery, TopicPartition } from '../ports/broker.js';
import type { DispatchSignals } from './dispatcher.js';
import { OffsetTracker } from './offsets.js';

// the reasons of the consumer's signals, as handlers and policies find them (`ctx.signal`,
// `ctx.state.closing`): checked by code, like every error
export const CLOSING = new HeraldError(CoreErrors.closed, 'consumer closing: running deliveries finish, failing ones are left uncommitted for redelivery');
export const STOPPED = new HeraldError(CoreErrors.closed, 'consumer stopped: its close deadline passed; running handlers are abandoned, their deliveries redelivered');
const REVOKED = new HeraldError(CoreErrors.closed, "partition revoked: running deliveries finish, failing ones are left uncommitted for the partition's next owner");

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
  private moveWaiters: (() => void)[] = [];

  constructor(
    readonly tp: TopicPartition,
    consumer: { readonly closing: AbortSignal; readonly stop: AbortSignal },
  ) {
    const halt = AbortSignal.any([consumer.closing, this.revocation.signal]);
    // every delivery of the partition retrying at once may wait on it (each removing its listener)
    setMaxListeners(0, halt);
    this.signals = { ...consumer, halt };
  }

  /** Marks `offset` completed; when the commit position moves, wakes whoever waits in {@link moved}. */
  complete(offset: number): void {
    const before = this.tracker.position;
    this.tracker.complete(offset);
    if (this.tracker.position !== before) this.wakeMoved();
  }

  /** Resolves when the commit position next moves, or when the partition halts (closing, revoked): it may never move again. */
  moved(): Promise<void> {
    const { halt } = this.signals;
    if (halt.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const moved = () => {
        halt.removeEventListener('abort', moved);
        resolve();
      };
      halt.addEventListener('abort', moved, { once: true });
      this.moveWaiters.push(moved);
    });
  }

  private wakeMoved(): void {
    if (this.moveWaiters.length === 0) return;
    const waiters = this.moveWaiters;
    this.moveWaiters = [];
    waiters.forEach((w) => w());
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
