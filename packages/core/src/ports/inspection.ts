/**
 * The broker's read side: what operators, metrics and the CLI read from the log without being a
 * member of any group. An optional ability of a {@link Broker}, found with {@link canInspect}.
 */
import type { Broker } from './broker.js';

/** One partition of a topic: the offsets it holds now. */
export interface PartitionRange {
  readonly partition: number;
  /** The first offset still retained (older records were deleted by retention). */
  readonly start: number;
  /** One past the last record: the offset the next record will get. */
  readonly end: number;
}

/** A topic as the broker holds it. */
export interface TopicDescription {
  readonly name: string;
  /** Every partition, in partition order. */
  readonly partitions: readonly PartitionRange[];
  /** Records older than this are deleted; null when kept forever or unknown. */
  readonly retentionMs: number | null;
  /** A partition is trimmed beyond this many bytes; null when unbounded or unknown. */
  readonly retentionBytes: number | null;
}

/** Where one consumer group stands on one partition. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /**
   * The next offset the group will read (Kafka semantics), or null when it never committed here.
   * An engine that stores a group's start position when a member first takes a partition (the
   * embedded log does, so a later owner resumes there) reports that position.
   */
  readonly committed: number | null;
  /** The partition's end offset. */
  readonly end: number;
  /**
   * Records the group has still to read: `end - committed`, or `end - start` (everything retained)
   * when it never committed. Records retention deleted before the group read them are not
   * counted (the group resumes at `start`): `end - max(committed, start)`. Never negative.
   */
  readonly lag: number;
}

/** A consumer group as the broker knows it. */
export interface GroupDescription {
  readonly group: string;
  /** Live members now (0 when nobody runs the group). */
  readonly members: number;
  /**
   * Per partition of the topics the group has committed on, and of the topics named in
   * {@link DescribeGroupOptions.topics}, in topic then partition order.
   */
  readonly partitions: readonly PartitionLag[];
  /** Sum of `lag` over `partitions`. */
  readonly totalLag: number;
}

/** What {@link BrokerInspector.describeGroup} reads beyond the topics the group committed on. */
export interface DescribeGroupOptions {
  /**
   * Topics the group subscribes to (its handlers' topics, which only the app knows): every
   * partition of these that exists is described too, committed or not, so a group stuck before its
   * first commit (its first record's handler failing over and over, its members crash-looping)
   * shows the records waiting for it instead of nothing. A partition it never committed on reports
   * `committed: null` and `lag = end - start`: exact for a group that starts at `'earliest'`; for
   * one that starts at `'latest'` or a timestamp, its position there is unknown to the broker
   * (unless the engine stored it when a member took the partition: the embedded log does), so
   * that figure is an upper bound, and a caller that knows the group's start decides what to show.
   * A named topic that does not exist adds nothing.
   */
  readonly topics?: readonly string[];
}

/**
 * Optional ability: reading topics and groups from outside any running consumer (the embedded
 * log's file, Kafka's admin API). Every method reads a consistent-enough snapshot: offsets move
 * while it runs, so figures may be a moment old, never invented.
 */
export interface BrokerInspector {
  /** The named topics (all when omitted), in name order; a named topic that does not exist is left out. */
  describeTopics(topics?: readonly string[]): Promise<readonly TopicDescription[]>;
  /** Every group that committed offsets or has live members, in name order. */
  listGroups(): Promise<readonly string[]>;
  /**
   * Members, committed offsets, end offsets and lag of one group, on the topics it committed on
   * and those named in `options.topics`; an unknown group has no partitions unless topics are named.
   */
  describeGroup(group: string, options?: DescribeGroupOptions): Promise<GroupDescription>;
}

/** Whether `broker` can be inspected (see {@link BrokerInspector}). */
export function canInspect<B extends Broker>(broker: B): broker is B & BrokerInspector {
  const b = broker as Partial<BrokerInspector>;
  return typeof b.describeTopics === 'function' && typeof b.listGroups === 'function' && typeof b.describeGroup === 'function';
}
