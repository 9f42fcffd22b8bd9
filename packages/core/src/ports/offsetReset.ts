/**
 * Moving a consumer group's committed offsets (replay, or giving up on records it cannot read):
 * the optional {@link OffsetReset} ability of a broker and the checks every engine applies alike.
 */
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Broker, StartPosition } from './broker.js';

/** Where a reset moves a group: a start position, or (for one partition) an exact offset. */
export type ResetPosition = StartPosition | { readonly offset: number };

export interface OffsetResetOptions {
  readonly group: string;
  readonly topic: string;
  readonly to: ResetPosition;
  /** Only this partition of the topic (required with an offset). Default every partition. */
  readonly partition?: number;
}

/** Optional ability: move a group's offsets, for replay. The group should have no live members. */
export interface OffsetReset {
  resetOffsets(options: OffsetResetOptions): Promise<void>;
}

export function canResetOffsets<B extends Broker>(broker: B): broker is B & OffsetReset {
  return typeof (broker as Partial<OffsetReset>).resetOffsets === 'function';
}

/** The partitions a reset moves, to one exact offset or to a start position the engine resolves in each. */
export type ResetTargets =
  | { readonly partitions: readonly number[]; readonly offset: number }
  | { readonly partitions: readonly number[]; readonly position: StartPosition };

const isOffset = (to: ResetPosition): to is { readonly offset: number } => typeof to === 'object' && to !== null && 'offset' in to;

/**
 * Checks a reset against the topic as the engine sees it and says which partitions it moves, and
 * where. An offset must lie in the partition's kept range, from its first
 * record to its end (both included: the end is "read only what comes next"); anything else, a
 * partition the topic lacks or a malformed value, is `invalid-options`, and nothing is moved.
 * `bounds` gives a partition's first kept offset and end.
 */
export function resetTargets(
  options: OffsetResetOptions,
  who: string,
  partitions: number,
  bounds: (partition: number) => { readonly low: number; readonly high: number },
): ResetTargets {
  const fail = (message: string): never => {
    throw new HeraldError(CoreErrors.invalidOptions, `${who}: resetting group '${options.group}' on '${options.topic}': ${message}`);
  };
  const { to, partition } = options;
  if (partition !== undefined && (!Number.isInteger(partition) || partition < 0)) fail(`partition must be an integer >= 0, got ${String(partition)}`);
  if (partition !== undefined && partition >= partitions) fail(`the topic has ${partitions} partition(s), 0..${partitions - 1}; there is no partition ${partition}`);
  if (!isOffset(to)) {
    // Kafka reads the times -1 and -2 as latest and earliest: a time before 1970 would move the group to an end
    if (to !== 'earliest' && to !== 'latest' && !(typeof to === 'object' && to !== null && Number.isFinite(to.timestamp) && to.timestamp >= 0)) {
      fail(`to must be 'earliest', 'latest', { timestamp } (ms since 1970, >= 0) or { offset }, got ${JSON.stringify(to)}`);
    }
    return { partitions: partition === undefined ? Array.from({ length: partitions }, (_, p) => p) : [partition], position: to };
  }
  if (partition === undefined) fail(`an offset (${String(to.offset)}) belongs to one partition: name it`);
  if (!Number.isSafeInteger(to.offset) || to.offset < 0) fail(`offset must be an integer >= 0, got ${String(to.offset)}`);
  const { low, high } = bounds(partition!);
  if (to.offset < low || to.offset > high) fail(`offset ${to.offset} is outside partition ${partition}'s records, ${low}..${high} (${high} is its end: read only what comes next)`);
  return { partitions: [partition!], offset: to.offset };
}
