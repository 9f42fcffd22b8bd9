import { describe } from 'vitest';
import { suiteTests } from '../suiteTests.js';
import { withBroker, type BrokerFixture } from './fixture.js';
import {
  BROKER_INSPECTOR_CONFORMANCE_TESTS,
  type BrokerInspectorConformanceOptions,
  type BrokerInspectorConformanceTest,
  type InspectorGuarantee,
} from './inspectorHarness.js';
import { countsLatestStart, countsLiveMembers, describesNamedTopics, describesTopics, describesUnknownGroup, listsGroups, reportsLag, reportsNeverCommitted, reportsRetention } from './inspectorTests.js';

const PLAN: readonly [BrokerInspectorConformanceTest, (f: BrokerFixture) => Promise<void>, readonly InspectorGuarantee[]][] = [
  ['describes topics in name order, each partition with its start and end offsets', describesTopics, []],
  ['reports the retention a topic was created with', reportsRetention, ['retention']],
  ['reports committed offsets, end offsets and lag per partition with no consumer running', reportsLag, []],
  ['reports a partition the group never committed on as committed null, lagging by all it retains', reportsNeverCommitted, ['partition-growth']],
  ['describes every partition of the topics named, committed on or not', describesNamedTopics, []],
  ['counts a group starting at latest from where it started, not from the records before it', countsLatestStart, []],
  ['counts live members while subscriptions are open, and none once they close', countsLiveMembers, []],
  ['lists groups in name order', listsGroups, []],
  ['describes an unknown group as no members and no partitions', describesUnknownGroup, []],
];

/**
 * Declares (as a vitest `describe` block) the conformance suite of the broker inspector ability
 * (`canInspect(broker)`), on the broker suite's harness: topics and their offsets, a group's
 * committed offsets, end offsets and lag read with no consumer running, never-committed partitions
 * (committed null, lag = everything retained), every partition of the topics named in
 * `describeGroup`'s `topics` whether the group committed there or not, live members counted while subscriptions are open
 * and not after they close, groups listed in name order, and an unknown group described as empty.
 * With `newMember`, inspection goes through a second handle that never joins a group. Tests
 * needing a guarantee the adapter does not declare, and tests in `skip`, are printed as skipped
 * with their reason.
 *
 * @example
 * describeBrokerInspectorConformance({
 *   name: 'memoryBroker',
 *   guarantees: ['partition-growth'],
 *   create: async () => {
 *     const broker = memoryBroker({ partitions: 4 });
 *     return { broker, newMember: async () => broker.connect() };
 *   },
 * });
 */
export function describeBrokerInspectorConformance(options: BrokerInspectorConformanceOptions): void {
  const waitMs = options.waitMs ?? 10_000;
  const suite = `Broker inspector conformance: ${options.name}`;
  describe(suite, () => {
    const tests = suiteTests({
      suite,
      names: BROKER_INSPECTOR_CONFORMANCE_TESTS,
      skip: options.skip,
      guarantees: options.guarantees,
      timeoutMs: options.testTimeoutMs ?? 6 * waitMs,
    });
    for (const [name, run, requires] of PLAN) tests.test(name, () => withBroker(options, run), requires);
  });
}
