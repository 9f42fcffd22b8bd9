import type { Admin, Consumer, Kafka } from 'kafkajs';
import { systemClock } from '@herald/core';
import type { Clock, CommittedOffset, DeliverySink, Logger, SubscribeOptions, Subscription, TopicPartition } from '@herald/core';
import { KafkaErrors } from '../errors.js';
import type { ResolvedKafkaOptions } from '../options.js';
import { createBatchIntake } from './batchIntake.js';
import { settleWithinCloseTimeout } from './closeWait.js';
import { createCommitter } from './committer.js';
import { consumerControls } from './consumerControls.js';
import { isCoordinationError, isRefusedSync } from './coordination.js';
import { withTimeout } from './deadline.js';
import { toHeraldError, wrapsCode } from './errors.js';
import { createMemberConsumer } from './memberConsumer.js';
import type { OffsetTools } from './offsets.js';
import { createPartitionFeed } from './partitionFeed.js';
import { createPositions } from './positions.js';
import { createRejoiner } from './rejoin.js';
import type { JoinGates } from './joinGate.js';

export { REJOIN_BACKOFF_MAX_MS } from './rejoin.js';

export interface SubscriptionDeps {
  readonly kafka: Kafka;
  readonly admin: () => Promise<Admin>;
  readonly offsets: OffsetTools;
  readonly options: ResolvedKafkaOptions;
  readonly logger: Logger;
  /** Times the backoff between rejoins. Default the system clock. */
  readonly clock?: Clock;
  /** Holds this member's JoinGroup until it let go of its partitions (see `createJoinGates`). */
  readonly joinGates?: JoinGates;
}

const id = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

/** A crash on a batch no codec could decompress, whose partition could not be told (see `standInRecords`). */
const isUndecodable = (error: unknown) => wrapsCode(error, KafkaErrors.batchUndecodable.code);

/** A join that failed only because the group moved under it: joining again settles it. */
const joinRaceLost = (error: unknown) => isRefusedSync(error) || isCoordinationError(error);

/**
 * One consumer-group membership. kafkajs runs the group (eager rebalancing, offsets committed only
 * by `commit`); this layer turns its batches into the port's contract:
 *
 * - fetched batches go to a {@link PartitionFeed}: per partition one `deliver` at a time
 *   (backpressure pauses that partition's fetching only), other partitions keep flowing;
 * - a rebalance is eager, as Java's consumer does it: before this member's JoinGroup is sent (held
 *   by `joinGates`), delivery stops and `revoked` runs for everything it owns, so its handlers are
 *   done and its commits landed before any member can be assigned those partitions; the join then
 *   `assigned` every partition it gives, each starting at its committed offset. Should `revoked`
 *   outlast the hold, the join goes ahead (logged): work still running on a lost partition may be
 *   redelivered to the new owner (at-least-once), and commits of a lost partition made from then on
 *   are dropped, never sent in the new generation, where they could move the group's offset below
 *   the new owner's (see `createCommitter`);
 * - a gained partition is paused until placed (see `createPositions`): a group without commits
 *   starts at `start` (`latest` and timestamps resolved to offsets before `subscribe` resolves, so
 *   later records are never skipped, and committed, so they are not resolved again), and a commit
 *   retention has passed (or the client's reset marker) is reported to the sink (`outOfRange`)
 *   before anything is fetched;
 * - `close` stops delivery and fetching, calls `revoked` for everything while still a member (so
 *   its commits land before the partitions move), then leaves the group. It does not wait for a
 *   pending `deliver`: the sink settles that on its own; a rejoin or membership work still running
 *   it waits for at most `closeTimeoutMs`;
 * - after a crash kafkajs does not recover from, the member rejoins, pausing before every attempt
 *   (doubling from `heartbeatIntervalMs` up to {@link REJOIN_BACKOFF_MAX_MS}) until a join succeeds.
 */
export async function openSubscription(deps: SubscriptionDeps, subscribe: SubscribeOptions, sink: DeliverySink): Promise<Subscription> {
  const { options, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const { group } = subscribe;
  const start = subscribe.start ?? 'earliest';
  const log = logger.child({ group });
  const consumer: Consumer = createMemberConsumer(deps.kafka, { group, options, closing: () => closing });

  let owned = new Map<string, TopicPartition>();
  /**
   * What kafkajs's latest join assigned this member, closing or not: kafkajs commits in that
   * generation, so only these partitions' offsets are sent (see `createCommitter`).
   */
  let current = new Set<string>();
  /** Membership work (revoked, assigned, start positions) that deliveries wait for. */
  let membership: Promise<void> = Promise.resolve();
  let closing = false;
  let finished = false;
  /** The first assignment is reported even when it is empty: that is when the member is ready. */
  let told = false;
  let closed: Promise<void> | undefined;
  /** Aborted when closing starts: a rejoin's backoff ends at once. */
  const stopping = new AbortController();

  const controls = consumerControls(consumer, log);
  const commitOffsets = createCommitter({ consumer, group, assigned: (tp) => current.has(id(tp)) });
  const feed = createPartitionFeed({
    sink,
    maxBatch: subscribe.maxBatch ?? Number.POSITIVE_INFINITY,
    pause: (tp) => controls.pause([tp]),
    resume: (tp) => controls.resume([tp]),
    ready: () => membership,
    checkGap: (tp, expected, first) => positions.checkGap(tp, expected, first),
    retryDelayMs: options.group.heartbeatIntervalMs,
    clock,
    logger: log,
  });

  const positions = createPositions({
    group,
    start,
    admin: deps.admin,
    offsets: deps.offsets,
    feed,
    sink,
    logger: log,
    retryDelayMs: options.group.heartbeatIntervalMs,
    owns: (tp) => owned.has(id(tp)),
    closing: () => closing,
    seek: (tp, offset) => controls.seek(tp, offset),
    // a placement that ends after close began leaves its partitions paused (see beginClosing)
    resume: (tps) => (closing ? undefined : controls.resume(tps)),
    commit: async (tp, offset) => void (await commitOffsets([{ ...tp, offset }])),
  });

  function onJoin(assignment: Record<string, number[]>): void {
    const next = new Map<string, TopicPartition>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const partition of partitions) next.set(id({ topic, partition }), { topic, partition });
    current = new Set(next.keys());
    if (closing) return controls.pause([...next.values()]); // a closing member reads nothing more (see beginClosing)
    const lost = [...owned.values()].filter((tp) => !next.has(id(tp)));
    const gained = [...next.values()].filter((tp) => !owned.has(id(tp)));
    // kafkajs restarts kept partitions at the committed offset; continue where this member was instead
    for (const [key, tp] of next) {
      const offset = owned.has(key) ? feed.nextFetchOffset(tp) : undefined;
      if (offset !== undefined) controls.seek(tp, offset);
    }
    owned = next;
    // nothing of a gained partition is fetched before it is placed (see createPositions)
    if (gained.length > 0) controls.pause(gained);
    for (const tp of lost) feed.drop(tp);
    membership = afterMembership(async () => {
      if (lost.length > 0) {
        await sink.revoked(lost).catch((error: unknown) => log.error('kafka: sink.revoked failed', { error }));
      }
      if (gained.length > 0 || !told) {
        told = true;
        sink.assigned?.(gained);
        if (gained.length > 0) await positions.placeGained(gained);
      }
    });
  }

  /**
   * Delivers nothing more and revokes everything owned; resolves once `revoked` settled. Run before
   * a rejoin, and as the eager protocol's hand-over while the JoinGroup waits (see `createJoinGates`):
   * `current` still holds the ending generation there, so the commits of `revoked` are sent.
   */
  function revokeAll(): Promise<void> {
    const lost = [...owned.values()];
    owned = new Map();
    for (const tp of lost) feed.drop(tp);
    membership = afterMembership(async () => {
      if (lost.length > 0) await sink.revoked(lost).catch((error: unknown) => log.error('kafka: sink.revoked failed', { error }));
    });
    return membership;
  }

  /**
   * Chains a membership step. A failed step is logged and the chain goes on: deliveries, later
   * steps and `close` all wait on `membership`, so one rejection would stop them all (and reject
   * where nobody handles it).
   */
  function afterMembership(step: () => Promise<void>): Promise<void> {
    return membership.then(step).catch((error: unknown) => log.error('kafka: membership work after a rebalance failed', { error }));
  }

  const onBatch = createBatchIntake({ feed, sink, logger: log, accepts: (tp) => !closing && owned.has(id(tp)) });

  let releaseGate = () => {};
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    // only a join proves a rejoin worked: a refused one resolves `run` too (kafkajs reports it as a crash)
    rejoiner.joined();
    releaseGate();
    releaseGate = deps.joinGates?.register(group, payload.memberId, revokeAll) ?? releaseGate;
    onJoin(payload.memberAssignment);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (closing) return;
    if (isUndecodable(payload.error)) {
      // a batch whose header could not be found (a legacy message set) fails the whole fetch
      log.error('kafka: consumer crashed on a record batch it cannot decompress, which fails every fetch that holds it; rejoining', { error: payload.error, restart: payload.restart });
    } else {
      log.error('kafka: consumer crashed', { error: payload.error, restart: payload.restart });
    }
    // kafkajs stops for good on errors it deems fatal (the mock cluster refuses some group syncs
    // that way); a member that silently stops consuming while its process lives is worse than a
    // rejoin, so after the first join we rejoin with backoff, and before it when the join only
    // lost a race (subscribe's join deadline still bounds it)
    if (!payload.restart && (hasJoined || joinRaceLost(payload.error))) void rejoiner.rejoin();
  });

  let hasJoined = false;

  /**
   * Marks the member closing: rejoins stop at their next step, nothing more is delivered nor fetched
   * (kafkajs would fetch and decompress the backlog at full speed to drop it while handlers finish).
   */
  function beginClosing(): void {
    closing = true;
    stopping.abort();
    feed.stop();
    controls.pause([...owned.values()]);
  }

  const rejoiner = createRejoiner({
    firstDelayMs: options.group.heartbeatIntervalMs,
    clock,
    stopping: stopping.signal,
    closing: () => closing,
    logger: log,
    leaveMembership: () => {
      current = new Set(); // the crashed generation is over: nothing is committed until the next join
      return revokeAll();
    },
    reconnect: async () => {
      await withTimeout(consumer.disconnect(), options.closeTimeoutMs, `leaving group '${group}'`).catch(() => {});
      // `close` may have given up waiting for this rejoin and disconnected: connect nothing after it
      if (closing) return;
      await consumer.connect();
      if (closing) return;
      await subscribeTopics();
      if (closing) return;
      await consumer.run({ autoCommit: false, eachBatch: onBatch });
    },
  });

  /** Waits for a rejoin and the membership work at most `closeTimeoutMs` (see `settleWithinCloseTimeout`). */
  const settle = () => settleWithinCloseTimeout(Promise.all([rejoiner.pending(), membership]), { consumer, group, closeTimeoutMs: options.closeTimeoutMs, logger: log });

  /**
   * Subscribes the consumer. Always `fromBeginning`, whatever `start`: the adapter places partitions
   * the group never committed itself (latest and timestamps resolved to offsets); kafkajs's default
   * serves only as its out-of-range reset, whose commit then is always EARLIEST (-2), a marker a
   * placement can tell from "never committed" (-1) (see `createPositions`).
   */
  function subscribeTopics(): Promise<void> {
    return consumer.subscribe({ topics: [...subscribe.topics], fromBeginning: true });
  }

  const joined = new Promise<void>((resolve, reject) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve());
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart && !joinRaceLost(payload.error)) reject(toHeraldError(payload.error, `joining group '${group}'`));
    });
  });
  joined.catch(() => {}); // awaited below; this only keeps an early crash from counting as unhandled

  try {
    await consumer.connect();
    await subscribeTopics();
    // onBatch only queues (the feed delivers), so kafkajs needs no concurrency of its own
    await consumer.run({ autoCommit: false, eachBatch: onBatch });
    await withTimeout(joined, options.group.rebalanceTimeoutMs + options.requestTimeoutMs, `joining group '${group}'`);
    hasJoined = true;
    await membership;
  } catch (error) {
    beginClosing();
    await settle();
    await withTimeout(consumer.disconnect(), options.closeTimeoutMs, `leaving group '${group}'`).catch(() => {});
    throw toHeraldError(error, `subscribing group '${group}' to ${subscribe.topics.join(', ')}`);
  }

  return {
    async commit(offsets: readonly CommittedOffset[]) {
      if (finished) return;
      const sent = await commitOffsets(offsets);
      if (sent.length < offsets.length) {
        const dropped = offsets.filter((o) => !sent.includes(o)).map((o) => `${o.topic}/${o.partition}@${o.offset}`);
        log.info('kafka: offsets of partitions this member no longer owns were not committed; their new owner started from the commit before the rebalance', { dropped });
      }
      for (const o of sent) positions.committed(o, o.offset);
    },
    close() {
      closed ??= (async () => {
        beginClosing();
        await settle();
        const all = [...owned.values()];
        if (all.length > 0) await sink.revoked(all).catch((error: unknown) => log.error('kafka: sink.revoked failed', { error }));
        finished = true;
        owned = new Map();
        releaseGate();
        await withTimeout(consumer.disconnect(), options.closeTimeoutMs, `leaving group '${group}'`).catch((error: unknown) =>
          log.warn('kafka: leaving the group failed; the group will notice when the session times out', { error }),
        );
      })();
      return closed;
    },
  };
}
