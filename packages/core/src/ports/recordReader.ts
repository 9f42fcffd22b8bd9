/**
 * Reading a partition's records as an observer: an optional ability of a {@link Broker}, found with
 * {@link canReadRecords}. A consumer group would leave state behind (committed offsets, on the
 * embedded log leases and commits written into the log file); a reader leaves none. `herald tail`
 * follows topics with it, taking end offsets from the inspector (`describeTopics`).
 */
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Broker, Delivery } from './broker.js';

/** Most records one {@link RecordReader.read} returns. */
export const MAX_RECORDS_PER_READ = 1000;

/** Which records of one partition to read. */
export interface RecordRange {
  readonly topic: string;
  readonly partition: number;
  /**
   * The first offset wanted (an integer >= 0). Below the partition's start (records retention
   * deleted), reading begins at the start.
   */
  readonly from: number;
  /** Most records to return: 1 to {@link MAX_RECORDS_PER_READ}. */
  readonly limit: number;
}

/**
 * Optional ability: read records of one partition without being a member of any consumer group.
 *
 * Contract: `read` resolves with records of the partition at offsets `from` and after, in offset
 * order, at most `limit` of them, with their key, value, headers and timestamp as a consumer sees
 * them. It does not wait for new records: at or past the partition's end it resolves with none,
 * and while the partition holds records at or after `from` it resolves with at least one (fewer
 * than `limit` is no sign of the end: compare with the end offset `describeTopics` reports). A
 * topic or partition that does not exist reads as empty and is not created. Reading commits
 * nothing and moves no group. A malformed range is refused with `invalid-options`.
 */
export interface RecordReader {
  read(range: RecordRange): Promise<readonly Delivery[]>;
}

/** Whether `broker` can read records outside any group (see {@link RecordReader}). */
export function canReadRecords<B extends Broker>(broker: B): broker is B & RecordReader {
  return typeof (broker as Partial<RecordReader>).read === 'function';
}

/**
 * Checks a {@link RecordRange} as every reader must: a non-empty topic, integer partition and
 * `from` >= 0, `limit` in 1..{@link MAX_RECORDS_PER_READ}. Throws `invalid-options` naming the
 * field; `who` prefixes the message (`log`, `kafka`...).
 */
export function checkRecordRange(range: RecordRange, who: string): void {
  const fail = (message: string): never => {
    throw new HeraldError(CoreErrors.invalidOptions, `${who}: read: ${message}`);
  };
  if (typeof range !== 'object' || range === null) fail('a range { topic, partition, from, limit } is required');
  if (typeof range.topic !== 'string' || range.topic.length === 0) fail(`topic must be a non-empty string, got ${JSON.stringify(range.topic)}`);
  if (!Number.isInteger(range.partition) || range.partition < 0) fail(`partition must be an integer >= 0, got ${String(range.partition)}`);
  if (!Number.isSafeInteger(range.from) || range.from < 0) fail(`from must be an integer >= 0, got ${String(range.from)}`);
  if (!Number.isInteger(range.limit) || range.limit < 1 || range.limit > MAX_RECORDS_PER_READ) {
    fail(`limit must be an integer in 1..${MAX_RECORDS_PER_READ}, got ${String(range.limit)}`);
  }
}
