import type { Clock, CommittedOffset, Delivery, DeliveryBatch, DeliverySink, Logger, MembershipFacts, Subscription, TopicPartition } from '@herald/core';

/** How long read positions wait to be committed together: a restart re-reads at most this much of what was seen. */
export const COMMIT_INTERVAL_MS = 1_000;

/** Commits how far a reply or wait group has read; see {@link positionCommitter}. */
export interface PositionCommitter {
  /** The subscription to commit through, once `subscribe` returned (deliveries may come before). */
  attach(subscription: Subscription): void;
  /** Records that `batch` was read; committed within {@link COMMIT_INTERVAL_MS}. */
  delivered(batch: DeliveryBatch): void;
  /** Commits at once what was read of `partitions` (the sink's `revoked`, which `close` calls too). */
  revoked(partitions: readonly TopicPartition[]): Promise<void>;
  /** Stops the interval; call after the subscription closed. */
  close(): void;
}

/**
 * Commits the read positions of a group of one member (`herald.reply.<id>`, `herald.wait.<id>`).
 * The group starts at the end of its topics only where it never committed: the embedded log
 * records that start position the first time the group takes a partition and resumes there ever
 * after, so a group that never commits makes every restart with the same instance id re-read
 * everything since its first start (up to retention), and holds new replies behind that backlog.
 * Committing what was read makes a restart resume after what the previous life saw. What it reads
 * there is of no use (nothing waits for it) but harmless: replies are dropped as `unknown`, events
 * nobody waits for are ignored. Commits are batched on an interval, and flushed when partitions
 * are revoked (so `close` leaves no gap), one at a time, so the position never moves back; a failed
 * commit is logged and retried with the next one.
 */
export function positionCommitter(deps: { readonly clock: Clock; readonly logger: Logger; readonly group: string }): PositionCommitter {
  const pending = new Map<string, CommittedOffset>();
  const keyOf = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;
  let subscription: Subscription | undefined;
  let cancelTimer: (() => void) | undefined;
  let closed = false;
  /** The flush under way: flushes run one after another (see {@link flush}). */
  let flushing: Promise<void> = Promise.resolve();

  /**
   * Commits what was read, after the flush under way. Two at once (the interval's and a
   * revocation's) could settle in either order: a failed one would then be queued again over the
   * later position the other committed, and the broker could take them in either order; either
   * way the group's position would move back.
   */
  function flush(only?: readonly TopicPartition[]): Promise<void> {
    flushing = flushing.then(() => flushNow(only));
    return flushing;
  }

  async function flushNow(only?: readonly TopicPartition[]): Promise<void> {
    if (!subscription) return;
    const keys = only ? only.map(keyOf).filter((key) => pending.has(key)) : [...pending.keys()];
    const offsets = keys.map((key) => pending.get(key)!);
    if (offsets.length === 0) return;
    for (const key of keys) pending.delete(key);
    try {
      await subscription.commit(offsets);
    } catch (error) {
      deps.logger.warn('reply: committing read positions failed; a restart may re-read what was read since the last commit', { group: deps.group, error });
      // retried with the next commit, unless something newer was read meanwhile
      for (const o of offsets) if (!pending.has(keyOf(o))) pending.set(keyOf(o), o);
      schedule();
    }
  }

  function schedule(): void {
    if (cancelTimer || closed || !subscription || pending.size === 0) return;
    cancelTimer = deps.clock.setTimer(COMMIT_INTERVAL_MS, () => {
      cancelTimer = undefined;
      void flush();
    });
  }

  return {
    attach(attached) {
      subscription = attached;
      schedule();
    },
    delivered(batch) {
      const last = batch.deliveries.at(-1);
      if (!last) return;
      pending.set(keyOf(batch), { topic: batch.topic, partition: batch.partition, offset: last.offset + 1 });
      schedule();
    },
    revoked: (partitions) => flush(partitions),
    close() {
      closed = true;
      cancelTimer?.();
      cancelTimer = undefined;
    },
  };
}

/**
 * The sink of a reply or wait group (one member, see {@link positionCommitter}): each delivery to
 * `receive`, the positions recorded, ready at the first assignment, and the membership facts
 * (assigned, revoked, held) reported as the core's consumer groups report theirs; revocation
 * comes from `close`, which commits what was read, and is reported even if that commit fails.
 */
export function readingSink(deps: {
  readonly receive: (delivery: Delivery) => void;
  readonly positions: PositionCommitter;
  readonly facts: MembershipFacts;
  readonly markReady: () => void;
}): DeliverySink {
  const { receive, positions, facts, markReady } = deps;
  return {
    async deliver(batch) {
      for (const delivery of batch.deliveries) receive(delivery);
      positions.delivered(batch);
    },
    assigned(partitions) {
      markReady();
      facts.assigned(partitions);
    },
    async revoked(partitions) {
      try {
        await positions.revoked(partitions);
      } finally {
        facts.revoked(partitions);
      }
    },
    held: facts.held,
  };
}
