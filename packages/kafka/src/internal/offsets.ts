import type { Admin, Kafka } from 'kafkajs';
import { resetTargets, systemClock } from '@herald/core';
import type { Clock, Logger, OffsetResetOptions, StartPosition } from '@herald/core';
import type { ResolvedKafkaOptions } from '../options.js';
import { isCoordinationError, isRefusedSync, retryCoordination } from './coordination.js';
import type { CoordinationRetryOptions } from './coordination.js';
import { isUnsupportedApi, toHeraldError } from './errors.js';
import { groupActive, resetAsSoleMember } from './soleMemberReset.js';
import type { BrokerSupport } from './support.js';
import { scanForTimestamp } from './timestampScan.js';
import type { OffsetRange } from './timestampScan.js';

export interface OffsetTools {
  /** Per partition of `topic`: the offset a reader positioned at `to` reads next. */
  offsetsAt(topic: string, to: StartPosition): Promise<Map<number, number>>;
  /** Moves `group`'s committed offsets on `topic` (or one partition of it) to `to`; the group must have no live member. */
  resetOffsets(options: OffsetResetOptions): Promise<void>;
}

export interface OffsetToolsDeps {
  readonly kafka: Kafka;
  readonly admin: () => Promise<Admin>;
  readonly options: ResolvedKafkaOptions;
  readonly logger: Logger;
  /** What the brokers answer, shared with the inspector. */
  readonly support: BrokerSupport;
  /** Paces retries while a group's coordinator moves. Default the system clock. */
  readonly clock?: Clock;
}

/**
 * Offset lookups and resets. Timestamps use ListOffsets when the broker answers it; a broker that
 * answers -1 for everything (the mock cluster) is detected once and served by scanning instead.
 * Resets go through `admin.setOffsets` (which first checks that the group is empty with
 * DescribeGroups); where the broker lacks DescribeGroups (detected once) they join the group and
 * commit only as its sole member. Either way, answers that mean the group is moving (coordinator
 * loading or moved, a rebalance under way) are retried until `requestTimeoutMs +
 * group.rebalanceTimeoutMs`, so a live member ends in `group-active`, not in a transient error.
 */
export function createOffsetTools(deps: OffsetToolsDeps): OffsetTools {
  const { kafka, options, logger, support } = deps;
  const clock = deps.clock ?? systemClock;
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

  async function positionsIn(topic: string, to: StartPosition, known: Map<number, OffsetRange>): Promise<Map<number, number>> {
    if (to === 'earliest') return new Map([...known].map(([p, r]) => [p, r.low]));
    if (to === 'latest') return new Map([...known].map(([p, r]) => [p, r.high]));
    const found = await byTimestamp(topic, to.timestamp, known);
    // clamp: a lookup answered before a concurrent append must still fall inside the log
    return new Map([...known].map(([p, r]) => [p, Math.min(Math.max(found.get(p) ?? r.high, r.low), r.high)]));
  }

  async function offsetsAt(topic: string, to: StartPosition): Promise<Map<number, number>> {
    try {
      return await positionsIn(topic, to, await ranges(topic));
    } catch (error) {
      throw toHeraldError(error, `looking up offsets of '${topic}'`);
    }
  }

  /** `admin.setOffsets`, which refuses unless DescribeGroups says the group is empty. False when the broker cannot describe groups. */
  async function resetIfEmpty(group: string, topic: string, targets: ReadonlyMap<number, number>): Promise<boolean> {
    const partitions = [...targets].map(([partition, offset]) => ({ partition, offset: String(offset) }));
    try {
      await (await deps.admin()).setOffsets({ groupId: group, topic, partitions });
      support.describeGroups = true;
      return true;
    } catch (error) {
      if (/no running instances/i.test((error as Error).message ?? '')) throw groupActive(group, error);
      if (!isUnsupportedApi(error)) throw error;
      support.describeGroups = false;
      logger.info('kafka: the broker cannot describe groups; resetting offsets by joining the group', { group, topic });
      return false;
    }
  }

  /** Where a reset moves each partition it names; `invalid-options` before anything moves. */
  async function resetPositions(reset: OffsetResetOptions): Promise<Map<number, number>> {
    const lookUp = async <T>(work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (error) {
        throw toHeraldError(error, `looking up offsets of '${reset.topic}'`);
      }
    };
    const known = await lookUp(() => ranges(reset.topic));
    const targets = resetTargets(reset, 'kafka', known.size, (p) => known.get(p)!);
    if ('offset' in targets) return new Map(targets.partitions.map((p) => [p, targets.offset]));
    const all = await lookUp(() => positionsIn(reset.topic, targets.position, known));
    return new Map(targets.partitions.map((p) => [p, all.get(p)!]));
  }

  async function resetOffsets(reset: OffsetResetOptions): Promise<void> {
    const { group, topic } = reset;
    const targets = await resetPositions(reset);
    const doing = `resetting offsets of group '${group}' on '${topic}'`;
    const retrying: CoordinationRetryOptions = {
      doing,
      deadline: clock.now() + options.requestTimeoutMs + options.group.rebalanceTimeoutMs,
      backoffMs: Math.min(1_000, options.group.heartbeatIntervalMs),
      clock,
      logger,
    };
    try {
      if (support.describeGroups !== false && (await retryCoordination(() => resetIfEmpty(group, topic, targets), retrying))) return;
      await retryCoordination((timeoutMs) => resetAsSoleMember(kafka, options, { group, topic, targets, timeoutMs }), {
        ...retrying,
        retryIf: (error) => isCoordinationError(error) || isRefusedSync(error),
      });
    } catch (error) {
      throw toHeraldError(error, doing);
    }
  }

  return { offsetsAt, resetOffsets };
}
