import type { Admin } from 'kafkajs';
import type { DeliverySink, Logger, StartPosition, TopicPartition } from '@herald/core';
import type { OffsetTools } from './offsets.js';
import type { PartitionFeed } from './partitionFeed.js';

/** What positioning a member's partitions works through (the member's consumer, feed and sink). */
export interface PositionsDeps {
  readonly group: string;
  readonly start: StartPosition;
  readonly admin: () => Promise<Admin>;
  readonly offsets: OffsetTools;
  readonly feed: PartitionFeed;
  readonly sink: DeliverySink;
  readonly logger: Logger;
  readonly retryDelayMs: number;
  /** Whether this member still owns the partition. */
  owns(tp: TopicPartition): boolean;
  closing(): boolean;
  seek(tp: TopicPartition, offset: number): void;
  resume(tps: readonly TopicPartition[]): void;
  commit(tp: TopicPartition, offset: number): Promise<void>;
}

export interface Positions {
  /**
   * Places partitions just assigned (and paused by the caller, so the client fetches nothing yet),
   * then resumes them: where the group committed below the partition's first retained offset the
   * sink is told which records retention deleted (and resumes there or halts the partition);
   * elsewhere the feed learns the committed offset; partitions never committed start at `start`.
   */
  placeGained(gained: readonly TopicPartition[]): Promise<void>;
  /** The feed's gap check (see `PartitionFeedDeps.checkGap`). */
  checkGap(tp: TopicPartition, expected: number, first: number): Promise<'deliver' | 'drop'>;
}

/**
 * Where a member's partitions start and what happens when records it had not read are gone.
 *
 * kafkajs, fetching at an offset retention deleted (offset out of range), logs one generic line,
 * COMMITS the reset position (EARLIEST, -2) for the group and fetches from there. So a partition is
 * checked before the client fetches anything of it: on assignment, its committed offset against its
 * first retained offset. A member already running that falls behind retention meets the client's
 * reset instead; the feed notices the jump and asks `checkGap`, which confirms it with the first
 * retained offset and replaces the commit the client overwrote at once: when the group stops there,
 * with the position it had (so the next start finds the gap again, rather than reading from the
 * earliest record); when it reads on, with the first retained offset.
 */
export function createPositions(deps: PositionsDeps): Positions {
  const { feed, sink, logger } = deps;

  async function lowOf(topic: string): Promise<Map<number, number>> {
    const admin = await deps.admin();
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)]));
  }

  async function placeTopic(topic: string, gained: readonly TopicPartition[], halted: Set<TopicPartition>): Promise<void> {
    const admin = await deps.admin();
    const [answer] = await admin.fetchOffsets({ groupId: deps.group, topics: [topic] });
    const committedAt = (tp: TopicPartition) => Number(answer?.partitions.find((p) => p.partition === tp.partition)?.offset ?? -1);
    const low = await lowOf(topic);
    for (const tp of gained.filter((tp) => committedAt(tp) >= 0)) {
      const at = committedAt(tp);
      const first = low.get(tp.partition) ?? 0;
      if (at >= first) {
        feed.expect(tp, at);
        continue;
      }
      const decision = sink.outOfRange ? await sink.outOfRange({ ...tp, from: at, to: first }) : 'resume';
      if (decision === 'stop') {
        feed.halt(tp);
        halted.add(tp);
      } else {
        feed.startAt(tp, first);
        deps.seek(tp, first);
      }
    }
    const fresh = gained.filter((tp) => committedAt(tp) < 0);
    if (fresh.length === 0 || deps.start === 'earliest') return;
    const targets = await deps.offsets.offsetsAt(topic, deps.start);
    for (const tp of fresh) {
      const offset = targets.get(tp.partition);
      if (offset === undefined) continue;
      feed.startAt(tp, offset);
      deps.seek(tp, offset);
    }
  }

  return {
    async placeGained(gained) {
      const halted = new Set<TopicPartition>();
      try {
        for (const topic of new Set(gained.map((tp) => tp.topic))) {
          await placeTopic(topic, gained.filter((tp) => tp.topic === topic && deps.owns(tp)), halted);
        }
      } catch (error) {
        logger.error('kafka: could not read where the gained partitions stand; they start where the client puts them (a gap retention made is then noticed only when fetched)', {
          error,
          start: deps.start,
        });
      } finally {
        deps.resume(gained.filter((tp) => !halted.has(tp) && deps.owns(tp)));
      }
    },

    async checkGap(tp, expected, first) {
      for (let failures = 1; !deps.closing(); failures++) {
        try {
          const low = (await lowOf(tp.topic)).get(tp.partition) ?? 0;
          // not retention: offsets the partition never held for us (compaction, transaction markers)
          if (expected >= low) return 'deliver';
          const skipped = { ...tp, from: expected, to: Math.min(low, first) };
          const decision = sink.outOfRange ? await sink.outOfRange(skipped) : 'resume';
          if (decision === 'stop') {
            feed.halt(tp);
            await deps.commit(tp, expected).catch((error: unknown) => logger.error('kafka: could not restore the committed offset the client reset', { error, ...skipped }));
            return 'drop';
          }
          // the client committed its reset position (-2 or -1) for the group: replace it now with the
          // real one, not at the sink's next commit, so a member that takes the partition over after
          // a crash in between does not take the group for one that never committed (and start it
          // at `start`, skipping or re-reading without a report)
          await deps.commit(tp, skipped.to).catch((error: unknown) => logger.error('kafka: could not replace the committed offset the client reset', { error, ...skipped }));
          if (first === skipped.to) return 'deliver';
          // the client reset past the first retained record (a group started at `latest`): go back to it
          feed.startAt(tp, skipped.to);
          deps.seek(tp, skipped.to);
          return 'drop';
        } catch (error) {
          logger.warn('kafka: could not check a gap in the fetched offsets; checking again', { error, topic: tp.topic, partition: tp.partition, expected, first, failures });
          await new Promise((resolve) => setTimeout(resolve, deps.retryDelayMs));
        }
      }
      return 'drop';
    },
  };
}
