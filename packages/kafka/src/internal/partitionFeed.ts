import type { Clock, Delivery, DeliverySink, Logger, TopicPartition } from '@herald/core';

export interface PartitionFeedDeps {
  readonly sink: DeliverySink;
  /** Upper bound of deliveries per `deliver` call. */
  readonly maxBatch: number;
  /** Stop and restart fetching one partition (kafkajs pause/resume). */
  pause(tp: TopicPartition): void;
  resume(tp: TopicPartition): void;
  /** Settles when pending membership work (revoked, assigned, start positions) is done. */
  ready(): Promise<void>;
  /**
   * The first records to hand over start after the offset the partition was expected to continue
   * at: `deliver` hands them over; `drop` discards them (the checker halted the partition or moved
   * its position with `startAt`).
   */
  checkGap(tp: TopicPartition, expected: number, first: number): Promise<'deliver' | 'drop'>;
  /** Wait before handing a batch the sink refused to it again. */
  readonly retryDelayMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Records the client fetched from one partition, as the feed takes them. */
export interface FetchedRecords {
  readonly deliveries: readonly Delivery[];
  /** Offset after the partition's last record when fetched, for lag. */
  readonly highWatermark: number;
  /** The offset the client asked the broker for, when known (see `PartitionFeed.push`). */
  readonly fetchedAt?: number;
  /**
   * The offset after everything the fetch covered, when known: past the last record delivered, it
   * counts records the client read but delivers to no one (transaction markers, aborted records).
   */
  readonly end?: number;
}

/**
 * Hands fetched records to the sink, one partition at a time per partition: a partition's next
 * `deliver` starts only after the previous one settled, while other partitions keep flowing. The
 * fetch loop never waits for the sink: a partition with a `deliver` pending and one more batch
 * buffered is paused at the client until its buffer drains, so memory stays bounded (one batch in
 * the sink, one in the buffer) and a slow partition never holds up the others or the heartbeats.
 */
export interface PartitionFeed {
  /**
   * Queues fetched records of an owned partition; records before the partition's fetch position are
   * dropped. Records that start past where the partition should continue go through `checkGap`
   * first, unless the client fetched them from no further than there (`fetchedAt`): then what is
   * missing before them was never there to read (transaction markers, aborted or compacted
   * records), since retention's gaps come only after the client's out-of-range reset, which fetches
   * from past them. Once delivered, the partition continues at `end` when the fetch covered more.
   */
  push(tp: TopicPartition, records: FetchedRecords): void;
  /** Where the client should fetch next to continue without a gap or a repeat (after a rebalance). */
  nextFetchOffset(tp: TopicPartition): number | undefined;
  /** Makes a partition start at `offset`: nothing before it is delivered. */
  startAt(tp: TopicPartition, offset: number): void;
  /**
   * Where the partition should continue (its committed offset), when nothing was delivered yet: a
   * first record beyond it goes through `checkGap` first.
   */
  expect(tp: TopicPartition, offset: number): void;
  /** Delivers nothing more of a partition (it stays paused) until it is dropped. */
  halt(tp: TopicPartition): void;
  /**
   * The partition's next records cannot be read (an undecodable batch follows those queued): what
   * is queued is still delivered, then the partition stays paused, and nothing more of it is taken,
   * until it is dropped. Returns false when it already was blocked.
   */
  block(tp: TopicPartition): boolean;
  /** Forgets a partition taken away: its buffer is dropped, a pending `deliver` is left to settle. */
  drop(tp: TopicPartition): void;
  /** Stops all delivery for good (closing); pending `deliver` calls are not awaited. */
  stop(): void;
}

interface PartitionState {
  readonly tp: TopicPartition;
  queue: FetchedRecords[];
  /** Next offset to hand to the sink. */
  position: number | undefined;
  /** Offset after the last record queued. */
  fetched: number | undefined;
  pumping: boolean;
  paused: boolean;
  /** Halted after a gap: nothing more is delivered until the partition is dropped. */
  halted: boolean;
  /** Blocked at an undecodable batch: the queue drains, nothing more is taken until the partition is dropped. */
  blocked: boolean;
  /** Bumped when the partition is dropped, so a deliver of the old ownership does not move the new one's position. */
  generation: number;
}

const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

export function createPartitionFeed(deps: PartitionFeedDeps): PartitionFeed {
  const states = new Map<string, PartitionState>();
  let stopped = false;

  function state(tp: TopicPartition): PartitionState {
    let s = states.get(key(tp));
    if (!s) {
      s = { tp: { topic: tp.topic, partition: tp.partition }, queue: [], position: undefined, fetched: undefined, pumping: false, paused: false, halted: false, blocked: false, generation: 0 };
      states.set(key(tp), s);
    }
    return s;
  }

  function setPaused(s: PartitionState, paused: boolean): void {
    // the client forgets pauses when it restarts, so pausing is repeated rather than trusted; for
    // the same reason a refused call is only logged: it is made again on the next push, and
    // throwing here would abandon a batch already taken off the queue
    try {
      if (paused) deps.pause(s.tp);
      else if (s.paused) deps.resume(s.tp);
    } catch (error) {
      deps.logger.warn(`kafka: could not ${paused ? 'pause' : 'resume'} fetching a partition; trying again on its next batch`, { topic: s.tp.topic, partition: s.tp.partition, error });
    }
    s.paused = paused;
  }

  async function deliverChunk(s: PartitionState, generation: number, deliveries: readonly Delivery[], highWatermark: number): Promise<void> {
    for (let failures = 0; !stopped && generation === s.generation; failures++) {
      try {
        await deps.sink.deliver({ ...s.tp, deliveries, highWatermark });
        if (generation === s.generation) s.position = deliveries[deliveries.length - 1]!.offset + 1;
        return;
      } catch (error) {
        deps.logger.error('kafka: sink.deliver failed; delivering the batch again', { topic: s.tp.topic, partition: s.tp.partition, error, failures });
        await deps.clock.sleep(deps.retryDelayMs);
      }
    }
  }

  async function pump(s: PartitionState): Promise<void> {
    s.pumping = true;
    try {
      for (;;) {
        await deps.ready();
        const next = s.queue.shift();
        if (stopped || s.halted || !next) return;
        if (s.queue.length === 0 && !s.blocked) setPaused(s, false); // fetch the next batch while this one is delivered
        const generation = s.generation;
        const fresh = next.deliveries.filter((d) => s.position === undefined || d.offset >= s.position);
        if (fresh.length > 0 && s.position !== undefined && fresh[0]!.offset > s.position && !(next.fetchedAt !== undefined && next.fetchedAt <= s.position)) {
          // records between the expected position and the first fetched one never came: ask why
          if ((await deps.checkGap(s.tp, s.position, fresh[0]!.offset)) === 'drop' || generation !== s.generation || s.halted) continue;
        }
        for (let i = 0; i < fresh.length && !stopped && generation === s.generation; i += deps.maxBatch) {
          await deliverChunk(s, generation, fresh.slice(i, i + deps.maxBatch), next.highWatermark);
        }
        // past a transaction marker that ended the fetch: the next fetch starts there, which is no gap
        if (next.end !== undefined && s.position !== undefined && !stopped && generation === s.generation) s.position = Math.max(s.position, next.end);
      }
    } finally {
      s.pumping = false;
      // the buffer may have been emptied under the loop (startAt, drop): never leave the partition paused, unless halted or blocked
      if (s.queue.length === 0 && !stopped && !s.halted && !s.blocked) setPaused(s, false);
    }
  }

  function kick(s: PartitionState): void {
    if (s.pumping || stopped) return;
    void pump(s)
      .catch(async (error: unknown) => {
        // nothing awaits the loop, and an unhandled rejection ends the process: should a step
        // throw, it is logged and the loop started again after a pause, so the queue never stalls
        deps.logger.error('kafka: delivering a partition failed; starting again', { topic: s.tp.topic, partition: s.tp.partition, error });
        await deps.clock.sleep(deps.retryDelayMs);
      })
      .then(() => {
        if (s.queue.length > 0 && !stopped) kick(s); // a push raced with the end of the loop
      });
  }

  return {
    push(tp, records) {
      if (stopped) return;
      const s = state(tp);
      if (s.halted || s.blocked) {
        setPaused(s, true); // fetched again: the client restarted and forgot the pause
        return;
      }
      const fresh = records.deliveries.filter((d) => s.fetched === undefined || d.offset >= s.fetched);
      if (fresh.length === 0) return;
      s.queue.push({ ...records, deliveries: fresh });
      s.fetched = Math.max(fresh[fresh.length - 1]!.offset + 1, records.end ?? 0);
      if (s.pumping) setPaused(s, true);
      kick(s);
    },
    nextFetchOffset: (tp) => states.get(key(tp))?.fetched,
    startAt(tp, offset) {
      const s = state(tp);
      s.position = offset;
      s.fetched = offset;
      s.queue = [];
    },
    expect(tp, offset) {
      const s = state(tp);
      if (s.position === undefined) s.position = offset;
    },
    halt(tp) {
      const s = state(tp);
      s.halted = true;
      s.queue = [];
      setPaused(s, true);
    },
    block(tp) {
      const s = state(tp);
      const was = s.blocked;
      s.blocked = true;
      setPaused(s, true);
      return !was;
    },
    drop(tp) {
      const s = states.get(key(tp));
      if (!s) return;
      s.halted = false;
      s.blocked = false;
      s.generation++;
      s.queue = [];
      s.position = undefined;
      s.fetched = undefined;
      setPaused(s, false);
    },
    stop() {
      stopped = true;
      for (const s of states.values()) s.queue = [];
    },
  };
}
