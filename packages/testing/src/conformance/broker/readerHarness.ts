import type { SkippedTest } from '../suiteTests.js';
import type { BrokerConformanceOptions } from './harness.js';

/** Every test of the record reader suite, by exact title (use these names in the skip list). */
export const RECORD_READER_CONFORMANCE_TESTS = [
  'reads a partition from an offset, in offset order, with keys, values, headers and timestamps',
  'returns at most limit records, and reading on from the next offset continues without a gap',
  'reads nothing at or past the end, nor from a topic or partition that does not exist, and creates neither',
  'sees records published after an earlier read',
  'leaves no group and moves no offsets',
  'refuses a malformed range with invalid-options',
] as const;

/** The title of one record reader suite test: what a skip list names. */
export type RecordReaderConformanceTest = (typeof RECORD_READER_CONFORMANCE_TESTS)[number];

/**
 * Options of `describeRecordReaderConformance`: the broker suite's harness (`create` returns
 * brokers that pass `canReadRecords`; with `newMember`, the suite reads through a second handle,
 * as `herald tail` in another process would) and its skip list.
 */
export interface RecordReaderConformanceOptions extends Pick<BrokerConformanceOptions, 'name' | 'create' | 'partitions' | 'waitMs' | 'testTimeoutMs'> {
  /** Tests not to run, each with the reason printed in CI output. */
  readonly skip?: readonly SkippedTest<RecordReaderConformanceTest>[];
}
