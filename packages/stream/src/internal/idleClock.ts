import type { WindowStore } from '@herald/core';
import type { GroupPlan } from './plan.js';
import { punctuate, type RunContext } from './run.js';

/**
 * The wall times a group's members share per partition number, so that idle punctuation is right
 * whoever holds which topic's partition. The topics of a co-partitioned aggregation share one
 * stream time per partition number, but partition 0 of one topic may be held by one member and
 * partition 0 of another by a second: each sees only its own records. Both therefore keep, in the
 * window store and in the transactions that move stream time, when the partition number last had
 * a record (of any of the group's topics, on any member) and up to when punctuation already moved
 * its stream time on. A member punctuates only when no record arrived anywhere for the idle
 * timeout, and moves stream time on by the wall time not yet accounted for, so the members
 * together move it by the wall time elapsed since the last record, once.
 *
 * Each time is kept as the stream time of an internal entry of the window store (a stream time
 * never goes back, so a write from a clock behind the last writer's is ignored). Their names hold
 * a `:`, which a topology's names never do, so no aggregation's store takes them.
 */

const lastRecordStore = (group: string) => `${group}:last-record`;
const punctuatedStore = (group: string) => `${group}:punctuated`;

/** A partition (number) of a group, in one transaction of the group's window store. */
export interface IdlePartition {
  readonly windows: WindowStore<unknown>;
  readonly tx: unknown;
  readonly group: string;
  readonly partition: number;
}

/**
 * Notes, in the batch's transaction, that the partition number had a record at `now`. Called before
 * the batch touches its window state: batches and punctuations then take the partition's locks in
 * one order (this register first), and never wait for each other in a circle.
 */
export async function noteRecord(at: IdlePartition, now: number): Promise<void> {
  await at.windows.update(at.tx, { store: lastRecordStore(at.group), partition: at.partition }, [], () => ({ streamTime: now }));
}

/**
 * How far, in ms, a punctuation at `now` moves the partition's stream time on: undefined when a
 * record arrived (on any member) within `idleTimeoutMs`, or when nothing is left to account for;
 * else the wall time since the later of the last record, the last punctuation and `since` (when
 * this member took the partition over, or last ran a batch of it), which it then records as
 * accounted for. In the punctuation's transaction, before any window state: see {@link noteRecord}.
 */
export async function idleAdvance(at: IdlePartition, options: { readonly now: number; readonly idleTimeoutMs: number; readonly since: number }): Promise<number | undefined> {
  const { now, idleTimeoutMs, since } = options;
  let lastRecord: number | undefined;
  await at.windows.update(at.tx, { store: lastRecordStore(at.group), partition: at.partition }, [], (state) => {
    lastRecord = state.streamTime;
    return undefined;
  });
  // a clock behind the member that wrote it sees a record in its future: not idle either
  if (lastRecord !== undefined && now - lastRecord < idleTimeoutMs) return undefined;
  let advance: number | undefined;
  await at.windows.update(at.tx, { store: punctuatedStore(at.group), partition: at.partition }, [], (state) => {
    const from = Math.max(since, lastRecord ?? since, state.streamTime ?? since);
    if (now <= from) return undefined;
    advance = now - from;
    return { streamTime: now };
  });
  return advance;
}

/** Whether the group's batches note their records: it aggregates, and idle partitions are punctuated. */
export function notesRecords(group: GroupPlan, idleTimeoutMs: number): boolean {
  return group.aggregations.length > 0 && Number.isFinite(idleTimeoutMs);
}

/**
 * Punctuates a partition idle on this member, in the caller's transaction: when {@link idleAdvance}
 * says it is idle everywhere, moves each aggregation's stream time on by the wall time not yet
 * accounted for (an aggregation that never had a record stays without one).
 */
export async function punctuateIdle(group: GroupPlan, ctx: RunContext, options: { readonly now: number; readonly idleTimeoutMs: number; readonly since: number }): Promise<void> {
  const advance = await idleAdvance({ windows: ctx.windows!, tx: ctx.tx, group: ctx.group, partition: ctx.partition }, options);
  if (advance === undefined) return;
  await punctuate(group, ctx, (_node, stored) => (stored === undefined ? undefined : stored + advance));
}
