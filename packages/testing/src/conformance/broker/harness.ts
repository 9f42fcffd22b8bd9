import type { Broker } from '@herald/core';
import type { SkippedTest } from '../suiteTests.js';

/**
 * What a broker adapter promises, checked by the tests that need it (the others always run):
 * - `per-key-order`: records of one key, published in order, are delivered in order, and keys are
 *   placed with `partitionForKey` (Kafka's murmur2).
 * - `consumer-groups`: committed offsets per group; a new subscription of a group resumes there,
 *   uncommitted records are delivered again; every group sees every record.
 * - `replay`: start positions `earliest` / `latest` / `{ timestamp }` for a new group, and
 *   `OffsetReset.resetOffsets` for an existing one (a topic, or one partition to an exact offset).
 * - `rebalance`: members of one group split the partitions (the broker calls `assigned` and
 *   `revoked`); a member that leaves or dies has its partitions moved to the others, which resume
 *   from the last commit; a partition moving to a member that joins goes to it only once its old
 *   owner's `revoked` resolved, from the commit made there (never to two members at once).
 * - `persistence`: records and committed offsets survive closing and reopening the broker.
 */
export type BrokerGuarantee = 'per-key-order' | 'consumer-groups' | 'replay' | 'rebalance' | 'persistence';

/** Every test of the broker suite, by exact title (use these names in the skip list). */
export const BROKER_CONFORMANCE_TESTS = [
  'delivers every published record, in offset order per partition',
  'places keys with partitionForKey',
  'keeps per-key order across many keys and concurrent publishers',
  'round-trips headers and timestamps',
  'gives every group every record',
  'resumes a group from its committed offset',
  'redelivers uncommitted records after a subscription closes',
  'starts a new group at earliest, latest or a timestamp',
  'replays a group with resetOffsets',
  'resets one partition of a group to a position or an exact offset',
  'splits partitions between two members of a group',
  'tells every member of its first assignment, also one given no partition',
  'moves a leaving member’s partitions to the other member without loss',
  'moves a dead member’s partitions to the other member without loss',
  'hands a busy member’s partitions to a joining member only after revoked, from its commit',
  'stops delivering a partition while its deliver is pending (backpressure)',
  'completes revoked and loses nothing when closed with a deliver in flight',
  'keeps records and committed offsets across reopen',
] as const;

/** The title of one broker suite test: what a skip list names. */
export type BrokerConformanceTest = (typeof BROKER_CONFORMANCE_TESTS)[number];

/**
 * One fresh, isolated broker under test, returned by {@link BrokerConformanceOptions.create} for
 * every test. Only `broker` is required; the hooks unlock the multi-member and persistence tests.
 */
export interface BrokerUnderTest {
  readonly broker: Broker;
  /**
   * Another member of the same log, as a second process would be (e.g. a second Kafka client, a
   * second connection to the same SQLite file). Without it, the suite's second group member
   * subscribes through `broker` itself. The suite closes what it gets at the end of the test.
   */
  newMember?(): Promise<Broker>;
  /**
   * Makes a member returned by `newMember` die without leaving the group: no `revoked` call, no
   * further commits (a `kill -9`). The group must move its partitions to the live members.
   * Required by the dead-member test when the adapter declares `rebalance`.
   */
  kill?(member: Broker): Promise<void>;
  /**
   * Closes `broker` and opens the same log again, returning the new handle. Required by the
   * `persistence` guarantee. `cleanup` must release the reopened broker too.
   */
  reopen?(): Promise<Broker>;
  /** Releases everything `create` made (servers, files). Called after each test, also on failure. Default: `broker.close()`. */
  cleanup?(): Promise<void>;
}

/** Options of {@link describeBrokerConformance}. */
export interface BrokerConformanceOptions {
  /** Printed in the suite's title and its skip lines, e.g. `memoryBroker`. */
  readonly name: string;
  /** A fresh broker for one test. Topics and groups are uniquely named per test, so brokers may share a server. */
  create(): Promise<BrokerUnderTest>;
  /** What the adapter promises; tests needing anything else are skipped, and printed as such. */
  readonly guarantees: readonly BrokerGuarantee[];
  /** Tests not to run, each with the reason printed in CI output. */
  readonly skip?: readonly SkippedTest<BrokerConformanceTest>[];
  /**
   * Partitions of each topic the suite uses (at least 2). The suite asks for them with
   * `ensureTopics` when the broker has it; otherwise the broker must create topics with this many
   * partitions on first use. Default 4.
   */
  readonly partitions?: number;
  /** Deadline of each wait for the broker (deliveries, rebalances), in ms. Default 10 000. */
  readonly waitMs?: number;
  /** Deadline of each test, in ms. Default `6 * waitMs`. */
  readonly testTimeoutMs?: number;
}
