/**
 * The Broker port: a partitioned, replayable log with consumer groups. The embedded SQLite log,
 * Kafka and the in-memory fake implement it; the outbox relay writes to it and the consumer runtime
 * reads from it. Optional abilities (topic provisioning, offset reset: `offsetReset.ts`) are separate
 * interfaces, found with type guards.
 */

/** A record to append to a topic. Its partition is `partitionForKey(key, partitions)`. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: string;
  /** The serialised envelope (JSON text). */
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Record time in ms; the broker's append time when absent. */
  readonly timestamp?: number;
}

/** A record read from one partition at one offset. */
export interface Delivery {
  readonly topic: string;
  readonly partition: number;
  /** Position in the partition; offsets only grow. */
  readonly offset: number;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

/** Consecutive deliveries of one partition, in offset order. */
export interface DeliveryBatch {
  readonly topic: string;
  readonly partition: number;
  readonly deliveries: readonly Delivery[];
  /** Offset after the partition's last record when the batch was read, for lag. */
  readonly highWatermark?: number;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** The next offset a group will read in a partition (Kafka semantics: last processed + 1). */
export interface CommittedOffset extends TopicPartition {
  readonly offset: number;
}

/** Where a group with no committed offset starts, or where a replay resets it to. */
export type StartPosition = 'earliest' | 'latest' | { readonly timestamp: number };

export interface SubscribeOptions {
  /** Consumer group: the members of a group share the partitions; each group sees every record. */
  readonly group: string;
  readonly topics: readonly string[];
  /** For partitions the group has never committed: where to start. Default `earliest`. */
  readonly start?: StartPosition;
  /** Upper bound of deliveries per batch. */
  readonly maxBatch?: number;
}

/**
 * Records of one partition a group had not read when retention deleted them: the group's position
 * `from` fell below the partition's first retained offset. `[from, to)` were skipped.
 */
export interface SkippedRecords extends TopicPartition {
  /** The group's position: the first offset it had not read. */
  readonly from: number;
  /** Where reading can resume: the first retained offset. */
  readonly to: number;
}

/**
 * A partition the broker stopped delivering before records it cannot read (a record batch no codec
 * could decompress): nothing of it from `offset` on is delivered or committed until it moves to
 * another member or the service restarts. `error` says what and where.
 */
export interface HeldPartition extends TopicPartition {
  /** The first offset not delivered. */
  readonly offset: number;
  readonly error: Error;
}

/** What a sink answers about {@link SkippedRecords}: read on from `to`, or stop reading the partition. */
export type OutOfRangeDecision = 'resume' | 'stop';

/**
 * Receives what a subscription reads. The broker calls `deliver` for one partition at a time and
 * does not call it again for that partition until the returned promise settles: resolving late is
 * how the consumer applies backpressure. Resolving means "accepted", not "processed": processing
 * is confirmed only by `Subscription.commit`.
 */
export interface DeliverySink {
  deliver(batch: DeliveryBatch): Promise<void>;
  /**
   * Partitions given to this member. Called once the member's first assignment is settled, even
   * when it gives nothing (a group with more members than partitions): that is when the member is
   * ready. Afterwards called whenever a rebalance gives it more.
   */
  assigned?(partitions: readonly TopicPartition[]): void;
  /**
   * Partitions taken away. Before the promise resolves the sink finishes (or abandons) its work on
   * them and commits what completed; uncommitted records are redelivered to the new owner.
   */
  revoked(partitions: readonly TopicPartition[]): Promise<void>;
  /**
   * The group's position in a partition points at records retention deleted (offset out of range).
   * Called before anything of the partition from `to` on is delivered, and once per gap. `resume`:
   * the broker delivers from `to` (the sink counts `[from, to)` as skipped and commits past them);
   * `stop`: the broker delivers nothing more of the partition, commits nothing for it, and the sink
   * closes the subscription. A sink without this method resumes.
   */
  outOfRange?(skipped: SkippedRecords): Promise<OutOfRangeDecision>;
  /** The broker holds a partition before records it cannot read (see {@link HeldPartition}); called once per hold. */
  held?(held: HeldPartition): void;
}

/** A live group membership. */
export interface Subscription {
  /** Commits offsets (next to read). A commit for a partition this member no longer owns may be ignored. */
  commit(offsets: readonly CommittedOffset[]): Promise<void>;
  /** Leaves the group: stops fetching, calls `revoked` for owned partitions, resolves when done. Idempotent. */
  close(): Promise<void>;
}

/**
 * The broker port.
 *
 * Contract: `publish` resolves only once every record is durably appended; records of one key in
 * one call keep their array order, and calls awaited one after another keep their order. A group
 * member receives each owned partition's records in offset order, starting at the group's
 * committed offset; records after the last commit are delivered again after a restart or a
 * rebalance (at-least-once).
 */
export interface Broker {
  publish(records: readonly OutgoingRecord[]): Promise<void>;
  subscribe(options: SubscribeOptions, sink: DeliverySink): Promise<Subscription>;
  /** Closes every subscription and releases resources. Idempotent. */
  close(): Promise<void>;
}

/** A topic's declared shape. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** Ignored where the engine has no replicas (the embedded log). */
  readonly replicationFactor?: number;
  readonly retentionMs?: number;
  readonly retentionBytes?: number;
}

/** Optional ability: create topics from a declared topology (best-effort where refused). */
export interface TopicAdmin {
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;
}

export function canEnsureTopics<B extends Broker>(broker: B): broker is B & TopicAdmin {
  return typeof (broker as Partial<TopicAdmin>).ensureTopics === 'function';
}
