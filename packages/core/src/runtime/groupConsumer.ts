import { setMaxListeners } from 'node:events';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Broker, Delivery, DeliveryBatch, DeliverySink, OutOfRangeDecision, SkippedRecords, StartPosition, Subscription, TopicPartition } from '../ports/broker.js';
import type { Clock } from '../ports/clock.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { Logger } from '../ports/logger.js';
import type { DispatchBatch } from './batchDispatcher.js';
import { createBatchRunner } from './batchRunner.js';
import type { DispatchSignals } from './dispatcher.js';
import { membershipFacts } from './membershipFacts.js';
import { CLOSING, PartitionWork, STOPPED, idleOrStopped, partitionId } from './partitionWork.js';
import { retryUntilHalted } from './retryUntilHalted.js';

/**
 * Handles one delivery end to end. Throws only for infrastructure failures: then it is tried again,
 * until it succeeds or its partition's `halt` aborts (the consumer closing, the partition revoked).
 */
export type Dispatch = (delivery: Delivery, signals: DispatchSignals) => Promise<void>;

/**
 * What a group does when retention deleted records it had not read: read on from the first
 * retained record (`earliest`), or stop the group (`stop`). Either way the gap is reported.
 */
export type OffsetOutOfRangePolicy = 'earliest' | 'stop';

export interface GroupConsumerOptions {
  readonly group: string;
  readonly topics: readonly string[];
  readonly broker: Broker;
  readonly dispatch: Dispatch;
  /**
   * When given, the group runs in batch mode: per partition, up to `maxBatch` consecutive ready
   * deliveries are handed to it at once, one batch at a time (so per-key order holds), instead of
   * `dispatch` per delivery with keys running concurrently.
   */
  readonly dispatchBatch?: DispatchBatch;
  /** Most deliveries per batch in batch mode. */
  readonly maxBatch?: number;
  readonly concurrency: number;
  readonly maxInFlight: number;
  readonly commitIntervalMs: number;
  readonly start: StartPosition;
  readonly onOffsetOutOfRange: OffsetOutOfRangePolicy;
  /** Deadline of the close a `stop` policy starts by itself. */
  readonly stopDeadlineMs: number;
  readonly clock: Clock;
  /** Bound to the group by the caller (`logger.child({ group })`): its lines name the group through it. */
  readonly logger: Logger;
  readonly instrumentation: Instrumentation;
}

export interface GroupConsumer {
  start(): Promise<void>;
  /** Resolves once the broker settled this member's first assignment (it may own no partition). */
  ready(): Promise<void>;
  /** Stops fetching, lets running handlers finish (until `deadlineMs`), commits, leaves the group. */
  close(deadlineMs: number): Promise<void>;
}

/**
 * The consumer runtime of one group. Per partition, deliveries are queued per key: one key's events
 * run one at a time in offset order, different keys run concurrently up to `concurrency`, so a key
 * that is retrying never blocks the partition's other keys. Offsets are committed only up to the
 * highest contiguous completed position. At most `maxInFlight` deliveries are held, and a partition
 * runs at most `maxInFlight` records past its commit position (a key stuck at its head lets the
 * others run on that far, no further): beyond either, `deliver` does not resolve, which pauses
 * fetching (backpressure). A revoke lets the partition's running handlers finish but stops its
 * deliveries from being tried again after a failure outside the handler policies (a store down):
 * they stay uncommitted, for the partition's next owner. In batch mode the partition's deliveries
 * go in batches instead (see {@link createBatchRunner}).
 */
export function createGroupConsumer(options: GroupConsumerOptions): GroupConsumer {
  const { group, broker, dispatch, concurrency, maxInFlight, clock, logger, instrumentation } = options;
  const stopGroup = () => void close(options.stopDeadlineMs);
  const partitions = new Map<string, PartitionWork>();
  const closing = new AbortController();
  const stop = new AbortController();
  // every delivery and batch in flight may listen to these (up to maxInFlight at once, each
  // removing its listener when it ends): not the leak Node warns of past ten listeners
  setMaxListeners(0, closing.signal, stop.signal);
  const signals = { closing: closing.signal, stop: stop.signal };
  let markReady: () => void = () => {};
  let failReady: (error: unknown) => void = () => {};
  const readiness = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  readiness.catch(() => {}); // nobody may be waiting
  let subscription: Subscription | undefined;
  /** Set while `subscribe` runs: a close may come before it resolves (a stop on the first delivery). */
  let subscribing: Promise<Subscription> | undefined;
  let inFlight = 0;
  let capacityWaiters: (() => void)[] = [];
  let commitLoop: Promise<void> | undefined;
  let closed: Promise<void> | undefined;
  /** In batch mode: what runs each partition's batches (absent: deliveries run one by one, keys concurrently). */
  const batches = options.dispatchBatch ? createBatchRunner({ dispatchBatch: options.dispatchBatch, maxBatch: options.maxBatch ?? 500, clock, logger, release }) : undefined;

  function release(count: number): void {
    inFlight -= count;
    if (inFlight < maxInFlight && capacityWaiters.length > 0) {
      const waiters = capacityWaiters;
      capacityWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  function work(tp: TopicPartition): PartitionWork {
    const id = partitionId(tp);
    let p = partitions.get(id);
    if (!p) {
      p = new PartitionWork({ topic: tp.topic, partition: tp.partition }, signals);
      partitions.set(id, p);
    }
    return p;
  }

  /** Runs a delivery until it completes; false when abandoned (the consumer closing, the partition revoked). */
  function handle(p: PartitionWork, delivery: Delivery): Promise<boolean> {
    return retryUntilHalted(options, {
      partition: p,
      what: 'delivery',
      attempt: () => dispatch(delivery, p.signals),
      where: () => ({ topic: delivery.topic, partition: delivery.partition, offset: delivery.offset }),
    });
  }

  async function runKey(p: PartitionWork, key: string): Promise<void> {
    p.running++;
    const queue = p.queues.get(key)!;
    try {
      while (queue.length > 0 && !p.revoked) {
        const delivery = queue[0]!;
        const completed = await handle(p, delivery);
        queue.shift();
        release(1);
        if (!completed) break;
        p.complete(delivery.offset);
      }
    } finally {
      if (queue.length > 0 && p.signals.halt.aborted) {
        release(queue.length);
        queue.length = 0;
      }
      if (queue.length === 0) p.queues.delete(key);
      p.running--;
      pump(p);
      p.notifyIdle();
    }
  }

  function pump(p: PartitionWork): void {
    while (!p.revoked && p.running < concurrency && p.waiting.length > 0) {
      void runKey(p, p.waiting.shift()!);
    }
  }

  function enqueue(p: PartitionWork, delivery: Delivery): void {
    p.tracker.add(delivery.offset);
    inFlight++;
    if (batches) {
      p.batchQueue.push(delivery);
      return;
    }
    const queue = p.queues.get(delivery.key);
    if (queue) {
      queue.push(delivery);
      return;
    }
    p.queues.set(delivery.key, [delivery]);
    if (p.running < concurrency) void runKey(p, delivery.key);
    else p.waiting.push(delivery.key);
  }

  async function commit(only?: readonly PartitionWork[]): Promise<void> {
    const pending: [PartitionWork, number][] = [];
    for (const p of only ?? partitions.values()) {
      const offset = p.pendingCommit();
      if (offset !== undefined) pending.push([p, offset]);
    }
    if (pending.length === 0 || !subscription) return;
    await subscription.commit(pending.map(([p, offset]) => ({ topic: p.tp.topic, partition: p.tp.partition, offset })));
    for (const [p, offset] of pending) {
      p.committed = offset;
      if (instrumentation.active && p.highWatermark !== undefined) {
        instrumentation.emit({ kind: 'lag', group, topic: p.tp.topic, partition: p.tp.partition, lag: Math.max(0, p.highWatermark - offset) });
      }
    }
  }

  async function runCommits(): Promise<void> {
    while (!closing.signal.aborted) {
      await clock.sleep(options.commitIntervalMs, closing.signal).catch(() => {});
      await commit().catch((error: unknown) => logger.warn('offset commit failed; will retry', { error }));
    }
  }

  /** Reports records retention deleted before the group read them, then applies the group's policy. */
  async function outOfRange(skipped: SkippedRecords): Promise<OutOfRangeDecision> {
    // a closing consumer reads nothing more: the next start finds the gap again and reports it
    if (closing.signal.aborted) return 'stop';
    const { topic, partition, from, to } = skipped;
    const count = to - from;
    const resumed = options.onOffsetOutOfRange === 'earliest';
    const then = resumed ? `reading on from offset ${to}` : `stopping group ${group} (onOffsetOutOfRange: 'stop'); replay it to read on`;
    const error = new HeraldError(
      CoreErrors.offsetOutOfRange,
      `group ${group} skipped ${count} record(s) of ${topic}/${partition}: offsets ${from} to ${to - 1} were deleted by retention before the group read them; ${then}`,
      { details: { group, topic, partition, from, to, count } },
    );
    logger.error(error.message, { error });
    if (instrumentation.active) instrumentation.emit({ kind: 'records-skipped', group, topic, partition, from, to, count, resumed });
    if (!resumed) {
      stopGroup();
      return 'stop';
    }
    // the gap counts as completed, so the next commit moves the group past it (not reported again)
    const p = work(skipped);
    p.tracker.add(to - 1);
    p.complete(to - 1);
    return 'resume';
  }

  function close(deadlineMs: number): Promise<void> {
    closed ??= (async () => {
      closing.abort(CLOSING);
      failReady(CLOSING);
      const timer = clock.sleep(deadlineMs, stop.signal).then(
        () => {
          logger.warn('close deadline passed; abandoning running handlers', { deadlineMs });
          stop.abort(STOPPED);
          release(0);
        },
        () => {},
      );
      try {
        await (subscription ?? (await subscribing?.catch(() => undefined)))?.close();
        await commitLoop;
        await commit().catch(() => {});
      } finally {
        stop.abort(STOPPED);
        await timer;
      }
    })();
    return closed;
  }

  const facts = membershipFacts(instrumentation, group);
  const sink: DeliverySink = {
    async deliver(batch: DeliveryBatch) {
      const p = work(batch);
      if (batch.highWatermark !== undefined) p.highWatermark = batch.highWatermark;
      for (const delivery of batch.deliveries) enqueue(p, delivery);
      batches?.start(p);
      for (;;) {
        if (inFlight >= maxInFlight && !stop.signal.aborted) await new Promise<void>((resolve) => capacityWaiters.push(resolve));
        // a delivery stuck at the head (a slow handler, a retry) holds the commit position: past
        // maxInFlight records the partition waits for it, or it would track every record it reads
        // while the head is stuck, and its next owner (or a restart) would read them all again
        else if (p.tracker.span > maxInFlight && !p.signals.halt.aborted) await p.moved();
        else return;
      }
    },
    assigned(assigned) {
      markReady();
      if (assigned.length === 0) return;
      for (const tp of assigned) work(tp);
      logger.info('partitions assigned', { partitions: assigned.map((tp) => `${tp.topic}/${tp.partition}`) });
      facts.assigned(assigned);
    },
    async revoked(revoked) {
      const works = revoked.map((tp) => partitions.get(partitionId(tp))).filter((p): p is PartitionWork => p !== undefined);
      for (const p of works) {
        p.revoke();
        release(p.dropWaiting());
      }
      // running handlers finish first; past the close deadline they are abandoned (redelivered later)
      await idleOrStopped(works, stop.signal);
      await commit(works).catch((error: unknown) => logger.warn('commit on revoke failed; uncommitted events will be redelivered', { error }));
      for (const p of works) partitions.delete(partitionId(p.tp));
      logger.info('partitions revoked', { partitions: revoked.map((tp) => `${tp.topic}/${tp.partition}`) });
      facts.revoked(revoked);
    },
    outOfRange,
    // the broker logged it with its cause; the fact is what metrics and alerts see
    held: facts.held,
  };

  return {
    async start() {
      subscribing = broker.subscribe({ group, topics: options.topics, start: options.start }, sink);
      subscription = await subscribing;
      commitLoop = runCommits();
    },
    ready: () => readiness,
    close,
  };
}
