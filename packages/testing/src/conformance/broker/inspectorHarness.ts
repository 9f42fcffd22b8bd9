import type { SkippedTest } from '../suiteTests.js';
import type { BrokerConformanceOptions } from './harness.js';

/**
 * What a broker inspector promises beyond the port's text, checked by the tests that need it:
 * - `retention`: a topic created with `retentionMs` / `retentionBytes` (through `ensureTopics`)
 *   reports them; a broker that never deletes records reports null and does not declare this.
 * - `partition-growth`: `ensureTopics` adds partitions to an existing topic, so a group can have a
 *   partition it never committed on in a topic it committed on.
 */
export type InspectorGuarantee = 'retention' | 'partition-growth';

/** Every test of the broker inspector suite, by exact title (use these names in the skip list). */
export const BROKER_INSPECTOR_CONFORMANCE_TESTS = [
  'describes topics in name order, each partition with its start and end offsets',
  'reports the retention a topic was created with',
  'reports committed offsets, end offsets and lag per partition with no consumer running',
  'reports a partition the group never committed on as committed null, lagging by all it retains',
  'describes every partition of the topics named, committed on or not',
  'counts a group starting at latest from where it started, not from the records before it',
  'counts live members while subscriptions are open, and none once they close',
  'lists groups in name order',
  'describes an unknown group as no members and no partitions',
] as const;

/** The title of one broker inspector suite test: what a skip list names. */
export type BrokerInspectorConformanceTest = (typeof BROKER_INSPECTOR_CONFORMANCE_TESTS)[number];

/**
 * Options of `describeBrokerInspectorConformance`: the broker suite's harness (`create` returns
 * brokers that pass `canInspect`; with `newMember`, the suite inspects through a second handle that
 * never joins a group, as an operator's tool in another process would), its own guarantees and
 * skip list.
 */
export interface BrokerInspectorConformanceOptions extends Pick<BrokerConformanceOptions, 'name' | 'create' | 'partitions' | 'waitMs' | 'testTimeoutMs'> {
  /** What the inspector promises; tests needing anything else are skipped, and printed as such. */
  readonly guarantees: readonly InspectorGuarantee[];
  /** Tests not to run, each with the reason printed in CI output. */
  readonly skip?: readonly SkippedTest<BrokerInspectorConformanceTest>[];
}
