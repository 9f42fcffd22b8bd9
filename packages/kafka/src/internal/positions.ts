import type { Admin } from 'kafkajs';
import type { DeliverySink, Logger, SkippedRecords, StartPosition, TopicPartition } from '@herald/core';
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
   * sink is told which records retention deleted (and resumes there or halts the partition), as
   * where the group's commit is the client's reset marker; elsewhere the feed learns the committed
   * offset; partitions never committed start at `start` (latest and timestamps committed there).
   */
  placeGained(gained: readonly TopicPartition[]): Promise<void>;
  /** The feed's gap check (see `PartitionFeedDeps.checkGap`). */
  checkGap(tp: TopicPartition, expected: number, first: number): Promise<'deliver' | 'drop'>;
  /** Notes an offset the sink committed: what `checkGap` puts back over the client's reset marker. */
  committed(tp: TopicPartition, offset: number): void;
}

/** What kafkajs commits for the group when it resets an out-of-range position (EARLIEST: the consumer subscribes `fromBeginning`). */
const CLIENT_RESET = -2;
/** What the broker answers for a partition the group never committed. */
const NEVER_COMMITTED = -1;

/** How many times a placement is tried before the gained partitions are left to the client. */
const PLACE_ATTEMPTS = 5;
/** The longest first pause between those tries (the pauses grow by it). */
const PLACE_RETRY_MS = 250;

const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

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
 * earliest record); when it reads on, with the first retained offset. A member that stops between
 * the client's reset and that replacement leaves the reset marker committed; the next placement
 * recognises it (never a start position: the client always resets to EARLIEST, -2, and a group that
 * never committed reads as -1) and reports the gap rather than starting the partition at `start`.
 */
export function createPositions(deps: PositionsDeps): Positions {
  const { feed, sink, logger } = deps;
  /**
   * Per owned partition, an offset safe to commit for the group: its last commit this member knows
   * of (read at placement, or made since), or where it started the partition. Never past a record
   * the sink may still be running, unlike the feed's position.
   */
  const safe = new Map<string, number>();

  async function lowOf(topic: string): Promise<Map<number, number>> {
    const admin = await deps.admin();
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)]));
  }

  async function placeTopic(topic: string, gained: readonly TopicPartition[], halted: Set<TopicPartition>): Promise<void> {
    const admin = await deps.admin();
    const [answer] = await admin.fetchOffsets({ groupId: deps.group, topics: [topic] });
    const committedAt = (tp: TopicPartition) => Number(answer?.partitions.find((p) => p.partition === tp.partition)?.offset ?? NEVER_COMMITTED);
    const low = await lowOf(topic);
    const fresh: TopicPartition[] = [];
    for (const tp of gained) {
      if (!deps.owns(tp)) continue; // moved during an earlier await: its new owner places it
      const at = committedAt(tp);
      const first = low.get(tp.partition) ?? 0;
      if (at === CLIENT_RESET) {
        await placeAfterReset(tp, first, halted);
        continue;
      }
      // a fresh partition starting at `earliest` cannot lose a record before `first`: it was never the group's
      safe.set(key(tp), at < 0 ? first : at);
      if (at < 0) fresh.push(tp);
      else if (at >= first) feed.expect(tp, at);
      else await placeBehindRetention(tp, { ...tp, from: at, to: first }, halted);
    }
    if (fresh.length === 0 || deps.start === 'earliest') return;
    await placeAtStart(topic, fresh);
  }

  /** The group committed below the first retained offset: the sink hears of the gap and resumes past it or halts the partition. */
  async function placeBehindRetention(tp: TopicPartition, skipped: SkippedRecords, halted: Set<TopicPartition>): Promise<'resume' | 'stop' | 'moved'> {
    const decision = sink.outOfRange ? await sink.outOfRange(skipped) : 'resume';
    if (!deps.owns(tp)) return 'moved';
    if (decision === 'stop') {
      feed.halt(tp);
      halted.add(tp);
    } else {
      feed.startAt(tp, skipped.to);
      deps.seek(tp, skipped.to);
    }
    return decision;
  }

  /**
   * The group's commit is the client's reset marker: a member fell behind retention and crashed (or
   * lost the partition) before `checkGap` put back a real commit. Where the group was is lost with
   * the commit the client overwrote, so the gap is reported as wide as it can be, from offset 0 to
   * the first retained one; and not at all when nothing was deleted (the reset was for an offset past
   * the end, as after a log truncation: nothing was skipped). Read on, the marker is replaced by the
   * first retained offset; stopped, it stays, so the next start reports the gap again.
   */
  async function placeAfterReset(tp: TopicPartition, first: number, halted: Set<TopicPartition>): Promise<void> {
    if (first > 0) {
      logger.error("kafka: the group's committed offset is the client's out-of-range reset marker, left by a member that stopped before replacing it: where the group was is unknown, so every record before the first retained one is reported as possibly skipped", {
        ...tp,
        first,
      });
    }
    const decision = first > 0 ? await placeBehindRetention(tp, { ...tp, from: 0, to: first }, halted) : 'resume';
    if (decision !== 'resume' || !deps.owns(tp)) return;
    safe.set(key(tp), first);
    if (first === 0) {
      feed.startAt(tp, 0);
      deps.seek(tp, 0);
    }
    await deps.commit(tp, first).catch((error: unknown) => logger.error('kafka: could not replace the client’s reset marker; the next start reports the gap again', { error, ...tp, first }));
  }

  /**
   * Seeks partitions the group never committed to `start` (latest or a timestamp) and commits that
   * offset before they are resumed: resolved again at the next rebalance, `latest` would move past
   * the records this member was given but had not completed, and past those published meanwhile.
   * (`earliest` needs neither: it cannot move past a record the group has not read.)
   */
  async function placeAtStart(topic: string, fresh: readonly TopicPartition[]): Promise<void> {
    const targets = await deps.offsets.offsetsAt(topic, deps.start);
    const placed = fresh.flatMap((tp) => {
      const offset = targets.get(tp.partition);
      return offset === undefined || !deps.owns(tp) ? [] : [{ tp, offset }];
    });
    for (const { tp, offset } of placed) {
      safe.set(key(tp), offset);
      feed.startAt(tp, offset);
      deps.seek(tp, offset);
    }
    await Promise.all(
      placed.map(({ tp, offset }) =>
        deps.commit(tp, offset).catch((error: unknown) =>
          logger.warn('kafka: could not commit the start position of a partition the group never committed; should it move to another member before this one commits, `start` is resolved again there', {
            error,
            ...tp,
            offset,
            start: deps.start,
          }),
        ),
      ),
    );
  }

  /**
   * The client committed its reset marker (-2) for the group: put back, now rather than at the
   * sink's next commit, the last offset the group committed, so a member that takes the partition
   * over after a crash in between finds the gap again (see `placeAfterReset` for when it cannot).
   * Not the gap's end nor the feed's position: records before them may still be running in the sink,
   * which moves the commit past the gap itself once they completed.
   */
  async function restoreCommit(tp: TopicPartition, skipped: SkippedRecords): Promise<void> {
    const offset = safe.get(key(tp));
    if (offset === undefined) {
      logger.warn("kafka: the group's last commit on a partition whose position the client reset is unknown here; its reset marker stays committed until the sink commits", { ...skipped });
      return;
    }
    await deps.commit(tp, offset).catch((error: unknown) => logger.error('kafka: could not put back the committed offset the client reset', { error, ...skipped, offset }));
  }

  return {
    async placeGained(gained) {
      const halted = new Set<TopicPartition>();
      for (const tp of gained) safe.delete(key(tp));
      const left = new Set(gained.map((tp) => tp.topic));
      try {
        // a placement that fails (an admin request timing out at a rebalance) is tried again a few
        // times before the partitions are left to the client, which would start a never-committed
        // one at its first retained record whatever `start`
        for (let attempt = 1; left.size > 0 && !deps.closing(); attempt++) {
          try {
            for (const topic of left) {
              await placeTopic(topic, gained.filter((tp) => tp.topic === topic && deps.owns(tp)), halted);
              left.delete(topic);
            }
          } catch (error) {
            if (attempt >= PLACE_ATTEMPTS) throw error;
            logger.warn('kafka: could not read where the gained partitions stand; trying again', { error, topics: [...left], attempt });
            // short pauses (2.5 s in all at most): the partitions stay paused meanwhile
            await new Promise((resolve) => setTimeout(resolve, Math.min(deps.retryDelayMs, PLACE_RETRY_MS) * attempt));
          }
        }
      } catch (error) {
        logger.error("kafka: could not read where the gained partitions stand; they start where the client puts them: at the group's commit, or where the group never committed at the first retained record whatever `start` (a gap retention made is then noticed only when fetched)", {
          error,
          start: deps.start,
          attempts: PLACE_ATTEMPTS,
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
          // the partition may have moved while the sink answered: its new owner places it itself
          if (!deps.owns(tp)) return 'drop';
          if (decision === 'stop') feed.halt(tp);
          await restoreCommit(tp, skipped);
          if (decision === 'stop' || !deps.owns(tp)) return 'drop';
          if (first === skipped.to) return 'deliver';
          // records at the first retained offset came after the client's reset had fetched past them: go back to them
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

    committed(tp, offset) {
      if (deps.owns(tp)) safe.set(key(tp), offset);
    },
  };
}
