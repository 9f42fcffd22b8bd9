import type { Admin, Kafka } from 'kafkajs';
import { ErrorCodes, HeraldError } from '@herald/core';
import type { Logger, StartPosition } from '@herald/core';
import type { ResolvedKafkaOptions } from '../options.js';
import { KafkaErrorCodes } from '../errorCodes.js';
import { isUnsupportedApi, toHeraldError } from './errors.js';
import { scanForTimestamp } from './timestampScan.js';
import type { OffsetRange } from './timestampScan.js';

export interface OffsetTools {
  /** Per partition of `topic`: the offset a reader positioned at `to` reads next. */
  offsetsAt(topic: string, to: StartPosition): Promise<Map<number, number>>;
  /** Moves `group`'s committed offsets on `topic` to `to`; the group must have no live member. */
  resetOffsets(options: { group: string; topic: string; to: StartPosition }): Promise<void>;
}

export interface OffsetToolsDeps {
  readonly kafka: Kafka;
  readonly admin: () => Promise<Admin>;
  readonly options: ResolvedKafkaOptions;
  readonly logger: Logger;
}

/**
 * Offset lookups and resets. Timestamps use ListOffsets when the broker answers it; a broker that
 * answers -1 for everything (the mock cluster) is detected once and served by scanning instead.
 * Resets go through `admin.setOffsets` (which first checks that the group is empty with
 * DescribeGroups); where the broker lacks DescribeGroups they join the group as its only member,
 * commit, and leave.
 */
export function createOffsetTools(deps: OffsetToolsDeps): OffsetTools {
  const { kafka, options, logger } = deps;
  let timestampLookup: 'supported' | 'unsupported' | undefined;

  async function ranges(topic: string): Promise<Map<number, OffsetRange>> {
    const admin = await deps.admin();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
  }

  async function byTimestamp(topic: string, timestamp: number, known: Map<number, OffsetRange>): Promise<Map<number, number>> {
    const admin = await deps.admin();
    if (timestampLookup === undefined) {
      // on a real broker the first record at or after time 0 is the first record: a broker that says otherwise cannot look up time
      const withData = [...known].filter(([, r]) => r.high > r.low);
      if (withData.length > 0) {
        const zero = new Map((await admin.fetchTopicOffsetsByTimestamp(topic, 0)).map((o) => [o.partition, Number(o.offset)]));
        timestampLookup = withData.every(([p, r]) => zero.get(p) === r.low) ? 'supported' : 'unsupported';
        if (timestampLookup === 'unsupported') logger.warn('kafka: the broker cannot look up offsets by time; scanning partitions instead', { topic });
      }
    }
    if (timestampLookup === 'unsupported') {
      const timeoutMs = options.requestTimeoutMs + options.group.sessionTimeoutMs;
      return scanForTimestamp(kafka, { topic, timestamp, ranges: known, timeoutMs, maxWaitMs: options.fetch.maxWaitMs });
    }
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
    return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
  }

  async function offsetsAt(topic: string, to: StartPosition): Promise<Map<number, number>> {
    try {
      const known = await ranges(topic);
      if (to === 'earliest') return new Map([...known].map(([p, r]) => [p, r.low]));
      if (to === 'latest') return new Map([...known].map(([p, r]) => [p, r.high]));
      const found = await byTimestamp(topic, to.timestamp, known);
      // clamp: a lookup answered before a concurrent append must still fall inside the log
      return new Map([...known].map(([p, r]) => [p, Math.min(Math.max(found.get(p) ?? r.high, r.low), r.high)]));
    } catch (error) {
      throw toHeraldError(error, `looking up offsets of '${topic}'`);
    }
  }

  async function commitAsSoleMember(group: string, topic: string, targets: Map<number, number>): Promise<void> {
    const { group: g } = options;
    const consumer = kafka.consumer({
      groupId: group,
      sessionTimeout: g.sessionTimeoutMs,
      heartbeatInterval: g.heartbeatIntervalMs,
      rebalanceTimeout: g.rebalanceTimeoutMs,
      maxWaitTimeInMs: options.fetch.maxWaitMs,
      allowAutoTopicCreation: false,
      retry: { retries: options.retries, restartOnFailure: async () => false },
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const assigned = new Promise<number[]>((resolve, reject) => {
        let mine: number[] | undefined;
        timer = setTimeout(() => reject(new HeraldError(ErrorCodes.timeout, `kafka: joining group '${group}' to reset its offsets timed out`, { retriable: true })), options.group.rebalanceTimeoutMs + options.requestTimeoutMs);
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          consumer.pause([{ topic }]);
          mine = payload.memberAssignment[topic] ?? [];
        });
        // commits are accepted once the runner is fetching, which starts right after the join
        consumer.on(consumer.events.FETCH_START, () => mine && resolve(mine));
        consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
      const mine = await assigned;
      if (mine.length < targets.size) {
        throw new HeraldError(KafkaErrorCodes.groupActive, `kafka: group '${group}' has live members on '${topic}'; stop them before resetting offsets`);
      }
      await consumer.commitOffsets([...targets].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })));
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => {});
    }
  }

  return {
    offsetsAt,
    async resetOffsets({ group, topic, to }) {
      const targets = await offsetsAt(topic, to);
      const partitions = [...targets].map(([partition, offset]) => ({ partition, offset: String(offset) }));
      try {
        await (await deps.admin()).setOffsets({ groupId: group, topic, partitions });
      } catch (error) {
        if (/no running instances/i.test((error as Error).message ?? '')) {
          throw new HeraldError(KafkaErrorCodes.groupActive, `kafka: group '${group}' has live members; stop them before resetting offsets`, { cause: error });
        }
        if (!isUnsupportedApi(error)) throw toHeraldError(error, `resetting offsets of group '${group}' on '${topic}'`);
        logger.info('kafka: the broker cannot describe groups; resetting offsets by joining the group', { group, topic });
        try {
          await commitAsSoleMember(group, topic, targets);
        } catch (fallbackError) {
          throw toHeraldError(fallbackError, `resetting offsets of group '${group}' on '${topic}'`);
        }
      }
    },
  };
}
