import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { ErrorCodes, HeraldError } from '@herald/core';
import type { CommittedOffset, DeliverySink, Logger, SubscribeOptions, Subscription, TopicPartition } from '@herald/core';
import type { ResolvedKafkaOptions } from '../options.js';
import { toDelivery } from './delivery.js';
import { isRebalancing, toHeraldError } from './errors.js';
import type { OffsetTools } from './offsets.js';

export interface SubscriptionDeps {
  readonly kafka: Kafka;
  readonly admin: () => Promise<Admin>;
  readonly offsets: OffsetTools;
  readonly options: ResolvedKafkaOptions;
  readonly logger: Logger;
}

const id = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

/**
 * One consumer-group membership. kafkajs runs the group (eager rebalancing, offsets committed only
 * by `commit`); this layer turns its batches into the port's contract:
 *
 * - each partition's batch goes to `sink.deliver` and the next one waits for it (backpressure);
 *   heartbeats continue while the sink holds a batch, so a slow sink is not thrown out of the group;
 * - on a rebalance the new assignment is compared with the old: `revoked(lost)` then
 *   `assigned(gained)`, in that order, before any further delivery. Kept partitions continue from
 *   where this member was (no redelivery); lost ones are picked up by their new owner from the
 *   committed offset. kafkajs rejoins before telling us, so work still running on a lost partition
 *   may be redelivered to the new owner (at-least-once);
 * - `close` stops fetching, waits for the batch being delivered, calls `revoked` for everything
 *   while still a member (so its commits land before the partitions move), then leaves the group.
 */
export async function openSubscription(deps: SubscriptionDeps, subscribe: SubscribeOptions, sink: DeliverySink): Promise<Subscription> {
  const { options, logger } = deps;
  const { group } = subscribe;
  const start = subscribe.start ?? 'earliest';
  const maxBatch = subscribe.maxBatch ?? Number.POSITIVE_INFINITY;
  const log = logger.child({ group });
  const consumer: Consumer = deps.kafka.consumer({
    groupId: group,
    sessionTimeout: options.group.sessionTimeoutMs,
    heartbeatInterval: options.group.heartbeatIntervalMs,
    rebalanceTimeout: options.group.rebalanceTimeoutMs,
    maxWaitTimeInMs: options.fetch.maxWaitMs,
    minBytes: options.fetch.minBytes,
    maxBytes: options.fetch.maxBytes,
    maxBytesPerPartition: options.fetch.maxBytesPerPartition,
    allowAutoTopicCreation: true,
    retry: { retries: options.retries, restartOnFailure: async () => !closing },
  });

  let owned = new Map<string, TopicPartition>();
  /** Next offset to deliver per owned partition, so a rebalance that keeps a partition does not rewind it. */
  const positions = new Map<string, number>();
  /** Partitions whose `revoked` is running: their commits are still sent. */
  const revoking = new Set<string>();
  /** Membership work (revoked, assigned, start lookups) that deliveries wait for. */
  let membership: Promise<void> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();
  let closing = false;
  let finished = false;
  let closed: Promise<void> | undefined;

  function onJoin(assignment: Record<string, number[]>): void {
    if (closing) return;
    const next = new Map<string, TopicPartition>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const partition of partitions) next.set(id({ topic, partition }), { topic, partition });
    const lost = [...owned.values()].filter((tp) => !next.has(id(tp)));
    const gained = [...next.values()].filter((tp) => !owned.has(id(tp)));
    for (const [key, tp] of next) {
      const position = positions.get(key);
      if (owned.has(key) && position !== undefined) consumer.seek({ ...tp, offset: String(position) });
    }
    owned = next;
    for (const tp of lost) {
      positions.delete(id(tp));
      revoking.add(id(tp));
    }
    membership = membership.then(async () => {
      if (lost.length > 0) {
        await sink.revoked(lost).catch((error: unknown) => log.error('kafka: sink.revoked failed', { error }));
        for (const tp of lost) revoking.delete(id(tp));
      }
      if (gained.length > 0) {
        sink.assigned?.(gained);
        if (typeof start === 'object') await startAtTimestamp(gained, start.timestamp);
      }
    });
  }

  /** Positions never-committed partitions at the first record at or after `timestamp`. */
  async function startAtTimestamp(gained: readonly TopicPartition[], timestamp: number): Promise<void> {
    try {
      const admin = await deps.admin();
      for (const topic of new Set(gained.map((tp) => tp.topic))) {
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        const fresh = gained.filter((tp) => tp.topic === topic && Number(committed?.partitions.find((p) => p.partition === tp.partition)?.offset ?? -1) < 0);
        if (fresh.length === 0) continue;
        const targets = await deps.offsets.offsetsAt(topic, { timestamp });
        for (const tp of fresh) {
          const offset = targets.get(tp.partition);
          if (offset === undefined || !owned.has(id(tp))) continue;
          positions.set(id(tp), offset);
          consumer.seek({ ...tp, offset: String(offset) });
        }
      }
    } catch (error) {
      log.error('kafka: could not position new partitions at the start timestamp; they start at the earliest offset', { error });
    }
  }

  /** Awaits `work` while heartbeating, so a sink that holds a batch keeps its group membership. */
  async function keepAlive<T>(work: Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        if (!isRebalancing(error)) log.debug('kafka: heartbeat failed', { error });
      });
    }, options.group.heartbeatIntervalMs);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  async function deliverBatch({ batch, heartbeat, isStale }: EachBatchPayload): Promise<void> {
    const tp = { topic: batch.topic, partition: batch.partition };
    const key = id(tp);
    await keepAlive(membership, heartbeat);
    const from = positions.get(key) ?? Number.NEGATIVE_INFINITY;
    const deliveries = batch.messages.filter((m) => Number(m.offset) >= from).map((m) => toDelivery(tp, m));
    const highWatermark = Number(batch.highWatermark);
    for (let i = 0; i < deliveries.length; i += maxBatch) {
      if (closing || !owned.has(key) || isStale()) return;
      const chunk = deliveries.slice(i, i + maxBatch);
      await keepAlive(sink.deliver({ ...tp, deliveries: chunk, highWatermark }), heartbeat);
      positions.set(key, chunk[chunk.length - 1]!.offset + 1);
    }
  }

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => onJoin(payload.memberAssignment));
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!closing) log.error('kafka: consumer crashed', { error: payload.error, restart: payload.restart });
  });

  const joined = new Promise<void>((resolve, reject) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve());
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) reject(toHeraldError(payload.error, `joining group '${group}'`));
    });
  });
  joined.catch(() => {}); // awaited below; this only keeps an early crash from counting as unhandled
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...subscribe.topics], fromBeginning: start !== 'latest' });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.group.partitionsConsumedConcurrently,
      eachBatch: (payload) => {
        if (closing) return Promise.resolve();
        const running = deliverBatch(payload);
        inFlight.add(running);
        return running.finally(() => inFlight.delete(running));
      },
    });
    await withTimeout(joined, options.group.rebalanceTimeoutMs + options.requestTimeoutMs, `joining group '${group}'`);
  } catch (error) {
    closing = true;
    await consumer.disconnect().catch(() => {});
    throw toHeraldError(error, `subscribing group '${group}' to ${subscribe.topics.join(', ')}`);
  }

  return {
    async commit(offsets: readonly CommittedOffset[]) {
      if (finished) return;
      const mine = offsets.filter((o) => owned.has(id(o)) || revoking.has(id(o)));
      if (mine.length === 0) return;
      try {
        await consumer.commitOffsets(mine.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
      } catch (error) {
        throw toHeraldError(error, `committing offsets of group '${group}'`);
      }
    },
    close() {
      closed ??= (async () => {
        closing = true;
        try {
          consumer.pause(subscribe.topics.map((topic) => ({ topic })));
        } catch {
          // kafkajs is between a crash and its restart: nothing is being fetched anyway
        }
        await Promise.allSettled([...inFlight]);
        await membership;
        const all = [...owned.values()];
        for (const tp of all) revoking.add(id(tp));
        if (all.length > 0) await sink.revoked(all).catch((error: unknown) => log.error('kafka: sink.revoked failed', { error }));
        finished = true;
        owned = new Map();
        revoking.clear();
        await consumer.disconnect().catch((error: unknown) => log.warn('kafka: leaving the group failed', { error }));
      })();
      return closed;
    },
  };
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number, doing: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HeraldError(ErrorCodes.timeout, `kafka: ${doing} took over ${timeoutMs} ms`, { retriable: true })), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
