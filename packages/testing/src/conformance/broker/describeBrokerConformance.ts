import { describe } from 'vitest';
import { suiteTests } from '../suiteTests.js';
import { appliesBackpressure, closesWithDeliverInFlight, deliversEveryRecord, keepsPerKeyOrder, placesKeys, roundTripsHeaders } from './deliveryTests.js';
import { withBroker, type BrokerFixture } from './fixture.js';
import { everyGroupSeesEverything, persistsAcrossReopen, redeliversUncommitted, resumesFromCommit } from './groupTests.js';
import { BROKER_CONFORMANCE_TESTS, type BrokerConformanceOptions, type BrokerConformanceTest, type BrokerGuarantee } from './harness.js';
import { handsOverOnJoin, splitsPartitions, takesOverPartitions, tellsIdleMembers } from './rebalanceTests.js';
import { replaysWithReset, resetsOnePartition, startsAtPosition } from './replayTests.js';

const PLAN: readonly [BrokerConformanceTest, (f: BrokerFixture) => Promise<void>, readonly BrokerGuarantee[]][] = [
  ['delivers every published record, in offset order per partition', deliversEveryRecord, []],
  ['places keys with partitionForKey', placesKeys, ['per-key-order']],
  ['keeps per-key order across many keys and concurrent publishers', keepsPerKeyOrder, ['per-key-order']],
  ['round-trips headers and timestamps', roundTripsHeaders, []],
  ['gives every group every record', everyGroupSeesEverything, ['consumer-groups']],
  ['resumes a group from its committed offset', resumesFromCommit, ['consumer-groups']],
  ['redelivers uncommitted records after a subscription closes', redeliversUncommitted, ['consumer-groups']],
  ['starts a new group at earliest, latest or a timestamp', startsAtPosition, ['replay']],
  ['replays a group with resetOffsets', replaysWithReset, ['replay', 'consumer-groups']],
  ['resets one partition of a group to a position or an exact offset', resetsOnePartition, ['replay', 'consumer-groups']],
  ['splits partitions between two members of a group', splitsPartitions, ['rebalance']],
  ['tells every member of its first assignment, also one given no partition', tellsIdleMembers, ['rebalance']],
  ['moves a leaving member’s partitions to the other member without loss', (f) => takesOverPartitions(f, 'leave'), ['rebalance', 'consumer-groups']],
  ['moves a dead member’s partitions to the other member without loss', (f) => takesOverPartitions(f, 'die'), ['rebalance', 'consumer-groups']],
  ['hands a busy member’s partitions to a joining member only after revoked, from its commit', handsOverOnJoin, ['rebalance', 'consumer-groups']],
  ['stops delivering a partition while its deliver is pending (backpressure)', appliesBackpressure, []],
  ['completes revoked and loses nothing when closed with a deliver in flight', closesWithDeliverInFlight, ['consumer-groups']],
  ['keeps records and committed offsets across reopen', persistsAcrossReopen, ['persistence', 'consumer-groups']],
];

/**
 * Declares (as a vitest `describe` block) the Broker port's conformance suite for one adapter.
 * The tests use only the port (`publish`, `subscribe`, `commit`, `close`, and `ensureTopics` /
 * `resetOffsets` where the broker has them), each against a fresh broker from `create()`, on
 * topics and groups named uniquely per test. Tests needing a guarantee the adapter does not
 * declare, and tests in `skip`, are registered with `it.skip` (the reason in their title) and
 * printed as `SKIP <suite> › <test>: <reason>`.
 *
 * What the suite relies on beyond the port's text: `subscribe` resolves once the member has its
 * partitions and start positions (so a record published after it resolves reaches a `latest`
 * member), and the `rebalance` guarantee includes calling `assigned`. In the close-in-flight test
 * the suite's sink settles its pending `deliver` right after calling `close()` (abandoning the
 * batch), so a broker may or may not wait for in-flight deliveries before `revoked`.
 *
 * @example
 * describeBrokerConformance({
 *   name: 'memoryBroker',
 *   guarantees: ['per-key-order', 'consumer-groups', 'replay', 'rebalance'],
 *   create: async () => {
 *     const broker = memoryBroker();
 *     return { broker, newMember: async () => broker.connect(), kill: (m) => (m as MemoryBroker).crash() };
 *   },
 *   skip: [{ test: 'keeps records and committed offsets across reopen', reason: 'in memory only' }],
 * });
 */
export function describeBrokerConformance(options: BrokerConformanceOptions): void {
  const waitMs = options.waitMs ?? 10_000;
  describe(`Broker conformance: ${options.name}`, () => {
    const tests = suiteTests({
      suite: `Broker conformance: ${options.name}`,
      names: BROKER_CONFORMANCE_TESTS,
      skip: options.skip,
      guarantees: options.guarantees,
      timeoutMs: options.testTimeoutMs ?? 6 * waitMs,
    });
    for (const [name, run, requires] of PLAN) tests.test(name, () => withBroker(options, run), requires);
  });
}
