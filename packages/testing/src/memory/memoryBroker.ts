import {
  checkRecordRange,
  CoreErrors,
  HeraldError,
  resetTargets,
  silentLogger,
  systemClock,
  type Broker,
  type BrokerInspector,
  type Clock,
  type Delivery,
  type Logger,
  type OffsetReset,
  type RecordReader,
  type Subscription,
  type TopicAdmin,
} from '@herald/core';
import { createMemoryGroup, tpKey, type MemoryGroup, type MemoryMember } from './memoryGroup.js';
import { inspectMemoryLog } from './memoryInspector.js';
import { createMemoryLog, type MemoryLog } from './memoryLog.js';

/** Options of {@link memoryBroker}; every field has a default. */
export interface MemoryBrokerOptions {
  /** Partitions of a topic created by its first publish or subscribe (not by `ensureTopics`). Default 4. */
  readonly partitions?: number;
  /** Most deliveries per batch, unless a subscription asks for fewer. Default 100. */
  readonly maxBatch?: number;
  /** Gives the append time of records published without a timestamp. Default: the system clock. */
  readonly clock?: Clock;
  /** Wait (on `clock`) before a batch whose `deliver` rejected is delivered again. Default 100. */
  readonly retryDelayMs?: number;
  /** Where rejected `deliver`/`revoked` calls are reported. Default: silent. */
  readonly logger?: Logger;
}

/** The in-memory broker, with the optional topic, offset, inspection and reading abilities and a few test helpers. */
export interface MemoryBroker extends Broker, TopicAdmin, OffsetReset, BrokerInspector, RecordReader {
  /**
   * Another client of the same log, as a second process would be: it shares topics, groups and
   * offsets, but its subscriptions, `close()` and `crash()` are its own.
   */
  connect(): MemoryBroker;
  /**
   * Simulates this client's process dying: its subscriptions stop fetching at once, get no
   * `revoked` call and their later commits are ignored; their partitions go to the group's other
   * members, from the last committed offset. The handle is closed afterwards.
   */
  crash(): Promise<void>;
  /** Every record of a topic, partition by partition, each in offset order (for assertions). */
  records(topic: string): readonly Delivery[];
  /** A group's committed offset (next to read) in one partition (its start position until it commits, recorded when a member first takes the partition), or undefined where no member ever did. */
  committed(group: string, topic: string, partition: number): number | undefined;
}

interface Cluster {
  readonly log: MemoryLog;
  readonly groups: Map<string, MemoryGroup>;
  readonly clock: Clock;
  readonly maxBatch: number;
  group(name: string): MemoryGroup;
}

const DEFAULTS = { partitions: 4, maxBatch: 100, retryDelayMs: 100 };

/**
 * Creates an in-memory broker for unit tests: a real implementation of the Broker port, not a
 * mock. Keys go to `partitionForKey(key, partitions)`; consumer groups keep committed offsets;
 * several subscriptions of one group (through this handle or {@link MemoryBroker.connect}) share
 * the partitions and are rebalanced as they join and leave, moved partitions being revoked before
 * they are assigned. Nothing survives the process.
 *
 * `ensureTopics` creates topics or adds partitions to them (never removes any; the groups rebalance
 * onto new ones). Retention is not modelled: nothing is deleted, and the inspector reports null.
 *
 * Contract: `publish` appends synchronously (resolved = appended); each owned partition is
 * delivered in offset order, one batch at a time, the next batch only after `deliver` settles;
 * `subscribe` resolves once the member has its partitions and start positions. A `deliver` still
 * pending when its partition is revoked is abandoned: its settling is ignored.
 *
 * @example
 * const broker = memoryBroker({ partitions: 2 });
 * await broker.publish([{ topic: 'orders', key: 'o-1', value: '{}' }]);
 */
export function memoryBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  const partitions = positiveInteger(options.partitions ?? DEFAULTS.partitions, 'partitions');
  const maxBatch = positiveInteger(options.maxBatch ?? DEFAULTS.maxBatch, 'maxBatch');
  const retryDelayMs = nonNegative(options.retryDelayMs ?? DEFAULTS.retryDelayMs, 'retryDelayMs');
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const log = createMemoryLog(partitions);
  const groups = new Map<string, MemoryGroup>();
  const cluster: Cluster = {
    log,
    groups,
    clock,
    maxBatch,
    group(name) {
      let group = groups.get(name);
      if (!group) {
        group = createMemoryGroup({
          log,
          onSinkError: (error, where) => logger.warn('memory broker: sink rejected', { group: name, ...where, error }),
          retryDelay: () => clock.sleep(retryDelayMs),
        });
        groups.set(name, group);
      }
      return group;
    },
  };
  return createHandle(cluster);
}

function createHandle(cluster: Cluster): MemoryBroker {
  const mine = new Map<MemoryMember, { group: MemoryGroup; close(): Promise<void> }>();
  let closed = false;
  const inspector = inspectMemoryLog(cluster.log, cluster.groups);

  function ensureOpen(operation: string): void {
    if (closed) throw new HeraldError(CoreErrors.closed, `memory broker: ${operation} after close`);
  }

  async function end(how: 'close' | 'crash'): Promise<void> {
    closed = true;
    const entries = [...mine];
    await Promise.all(entries.map(([member, s]) => (how === 'crash' ? s.group.crash(member) : s.close())));
  }

  return {
    async publish(records) {
      ensureOpen('publish');
      cluster.log.append(records, cluster.clock.now());
    },

    async subscribe(subscribeOptions, sink): Promise<Subscription> {
      ensureOpen('subscribe');
      if (!subscribeOptions.group) throw invalid('subscribe: group must be a non-empty string');
      if (subscribeOptions.topics.length === 0) throw invalid('subscribe: topics must not be empty');
      const batch = positiveInteger(subscribeOptions.maxBatch ?? cluster.maxBatch, 'maxBatch');
      for (const topic of subscribeOptions.topics) cluster.log.topic(topic);
      const group = cluster.group(subscribeOptions.group);
      const member: MemoryMember = {
        topics: [...subscribeOptions.topics],
        start: subscribeOptions.start ?? 'earliest',
        maxBatch: Math.min(batch, cluster.maxBatch),
        sink,
        owned: new Map(),
        told: false,
        revoking: new Set(),
        crashed: false,
        left: false,
      };
      let closing: Promise<void> | undefined;
      const close = () => (closing ??= group.leave(member).finally(() => mine.delete(member)));
      mine.set(member, { group, close });
      await group.join(member);
      return {
        async commit(offsets) {
          group.commit(member, offsets);
        },
        close,
      };
    },

    async ensureTopics(topics) {
      ensureOpen('ensureTopics');
      let grew = false;
      for (const spec of topics) grew = cluster.log.grow(spec.name, positiveInteger(spec.partitions, `partitions of ${spec.name}`)) || grew;
      // running members take the new partitions over, as a Kafka group does after a metadata refresh
      if (grew) await Promise.all([...cluster.groups.values()].map((group) => group.rebalance()));
    },

    async resetOffsets(reset) {
      ensureOpen('resetOffsets');
      const { group: name, topic } = reset;
      const group = cluster.group(name);
      await group.exclusive(() => {
        if (group.members.length > 0) {
          throw new HeraldError(CoreErrors.groupActive, `memory broker: group ${name} has ${group.members.length} live members; close them before resetting offsets`);
        }
        const partitions = cluster.log.topic(topic);
        const targets = resetTargets(reset, 'memory broker', partitions.length, (p) => ({ low: 0, high: partitions[p]!.records.length }));
        for (const p of targets.partitions) {
          const offset = 'offset' in targets ? targets.offset : cluster.log.position(partitions[p]!, targets.position);
          group.committed.set(tpKey(topic, p), offset);
        }
      });
    },

    describeTopics(topics) {
      ensureOpen('describeTopics');
      return inspector.describeTopics(topics);
    },
    listGroups() {
      ensureOpen('listGroups');
      return inspector.listGroups();
    },
    describeGroup(group, options) {
      ensureOpen('describeGroup');
      return inspector.describeGroup(group, options);
    },

    async read(range) {
      ensureOpen('read');
      checkRecordRange(range, 'memory broker');
      // looked up, never created: reading a topic must not make it exist
      const partition = cluster.log.has(range.topic) ? cluster.log.topic(range.topic)[range.partition] : undefined;
      return partition ? partition.records.slice(range.from, range.from + range.limit) : [];
    },

    connect: () => createHandle(cluster),
    crash: () => end('crash'),
    close: () => end('close'),

    records(topic) {
      return cluster.log.has(topic) ? cluster.log.topic(topic).flatMap((p) => p.records) : [];
    },

    committed: (group, topic, partition) => cluster.groups.get(group)?.committed.get(tpKey(topic, partition)),
  };
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, `memory broker: ${message}`);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw invalid(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!(Number.isFinite(value) && value >= 0)) throw invalid(`${name} must be a non-negative number, got ${value}`);
  return value;
}
