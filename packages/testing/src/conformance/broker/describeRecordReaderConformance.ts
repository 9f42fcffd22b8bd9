import { describe } from 'vitest';
import { suiteTests } from '../suiteTests.js';
import { withBroker, type BrokerFixture } from './fixture.js';
import { RECORD_READER_CONFORMANCE_TESTS, type RecordReaderConformanceOptions, type RecordReaderConformanceTest } from './readerHarness.js';
import { leavesNoGroup, readsInSteps, readsNothingBeyond, readsRange, refusesMalformed, seesLaterRecords } from './readerTests.js';

const PLAN: readonly [RecordReaderConformanceTest, (f: BrokerFixture) => Promise<void>][] = [
  ['reads a partition from an offset, in offset order, with keys, values, headers and timestamps', readsRange],
  ['returns at most limit records, and reading on from the next offset continues without a gap', readsInSteps],
  ['reads nothing at or past the end, nor from a topic or partition that does not exist, and creates neither', readsNothingBeyond],
  ['sees records published after an earlier read', seesLaterRecords],
  ['leaves no group and moves no offsets', leavesNoGroup],
  ['refuses a malformed range with invalid-options', refusesMalformed],
];

/**
 * Declares (as a vitest `describe` block) the conformance suite of the record reader ability
 * (`canReadRecords(broker)`), on the broker suite's harness: a partition read from an offset in
 * offset order with keys, values, headers and timestamps intact; `limit` respected and reads that
 * go on from the next offset seeing every record once; nothing read (and nothing created) at the
 * end, beyond it, or for a topic or partition that does not exist; records published after a read
 * at the end readable from there (how `herald tail` follows); no group joined and no offset moved
 * (the test inspects through the reader, which must pass `canInspect` too); malformed ranges refused
 * with `invalid-options`. With `newMember`, reads go through a second handle. Tests in `skip` are
 * printed as skipped with their reason.
 *
 * @example
 * describeRecordReaderConformance({
 *   name: 'memoryBroker',
 *   create: async () => {
 *     const broker = memoryBroker({ partitions: 4 });
 *     return { broker, newMember: async () => broker.connect() };
 *   },
 * });
 */
export function describeRecordReaderConformance(options: RecordReaderConformanceOptions): void {
  const waitMs = options.waitMs ?? 10_000;
  const suite = `Record reader conformance: ${options.name}`;
  describe(suite, () => {
    const tests = suiteTests({ suite, names: RECORD_READER_CONFORMANCE_TESTS, skip: options.skip, timeoutMs: options.testTimeoutMs ?? 6 * waitMs });
    for (const [name, run] of PLAN) tests.test(name, () => withBroker(options, run));
  });
}
