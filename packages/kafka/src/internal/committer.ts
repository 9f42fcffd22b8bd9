import type { Consumer } from 'kafkajs';
import { CoreErrors, HeraldError } from '@herald/core';
import type { CommittedOffset, TopicPartition } from '@herald/core';
import { toHeraldError } from './errors.js';

export interface CommitterDeps {
  readonly consumer: Consumer;
  readonly group: string;
  /** Whether the group's current generation assigns this partition to this member. */
  readonly assigned: (tp: TopicPartition) => boolean;
}

/**
 * Commits a group member's offsets through kafkajs, failing unless kafkajs confirms them.
 *
 * kafkajs 2.2.4's `commitOffsets` resolves WITHOUT committing while its consumer is not running:
 * from a crash until the join of the restart kafkajs makes by itself (`restart: true`), or during
 * the adapter's own rejoin. A commit counts only when kafkajs reported committing every one of its
 * offsets (its COMMIT_OFFSETS event, emitted once the coordinator accepted them, before
 * `commitOffsets` resolves); otherwise it fails retriable (`broker-unavailable`), and the sink
 * commits again later rather than taking records for committed that were not.
 *
 * Commits are sent one after another, each once the one before settled, so they land in the order
 * they were made: kafkajs retries a failed commit (a coordinator moving, a request timing out) after
 * a pause, and a later commit sent meanwhile (the sink's commit on revoke, while its periodic one is
 * retried) would land first and be overwritten by the older offset, moving the group back.
 *
 * An offset is sent only while its partition is `assigned` to this member in the group's current
 * generation, checked when it is about to be sent (a commit may wait behind another across a
 * rebalance). kafkajs commits with the generation of its latest join, and a coordinator accepts a
 * commit of any partition from a member of the current generation; so a commit made after a
 * rebalance for a partition this member lost (kafkajs rejoins before `revoked` can run) would land
 * over the new owner's and could move the group's offset back below what it already committed. Such
 * offsets are dropped: the new owner started from the commit made before the rebalance, so dropping
 * only means records it redelivers anyway, never a record skipped. The promise resolves with the
 * offsets sent.
 */
export function createCommitter(deps: CommitterDeps): (offsets: readonly CommittedOffset[]) => Promise<readonly CommittedOffset[]> {
  const { consumer, group, assigned } = deps;
  /** Per commit in flight, its offsets kafkajs has not confirmed yet. */
  const unconfirmed = new Set<Set<string>>();
  const key = (topic: string, partition: number, offset: string) => `${topic}\u0000${partition}\u0000${offset}`;
  consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
    for (const { topic, partitions } of payload.topics) {
      for (const { partition, offset } of partitions) for (const waiting of unconfirmed) waiting.delete(key(topic, Number(partition), String(offset)));
    }
  });

  /** The commit sent last, settled or not: the next one waits for it. */
  let previous: Promise<unknown> = Promise.resolve();

  return function commit(offsets) {
    const sent = previous.then(() => send(offsets));
    previous = sent.catch(() => {});
    return sent;
  };

  async function send(all: readonly CommittedOffset[]): Promise<readonly CommittedOffset[]> {
    const offsets = all.filter((o) => assigned(o));
    if (offsets.length === 0) return offsets;
    const waiting = new Set(offsets.map((o) => key(o.topic, o.partition, String(o.offset))));
    unconfirmed.add(waiting);
    try {
      await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
    } catch (error) {
      throw toHeraldError(error, `committing offsets of group '${group}'`);
    } finally {
      unconfirmed.delete(waiting);
    }
    if (waiting.size > 0) {
      throw new HeraldError(CoreErrors.brokerUnavailable, `kafka: committing offsets of group '${group}' failed: the client is not running (it is restarting after a crash), nothing was committed; commit again once it rejoined`, {
        retriable: true,
      });
    }
    return offsets;
  }
}
