import type { WindowStore } from '@herald/core';
import type { Activity } from './activity.js';
import type { AggregateNode } from './graph.js';
import type { GroupPlan } from './plan.js';
import { punctuate, type RunContext } from './run.js';

/**
 * Which aggregations go idle together, and the wall times their members share when their topics
 * are held by several members.
 *
 * An aggregation's idleness is its topics': the aggregations of a group that read the same topics
 * form one idle set, tracked and punctuated on its own (records of another topic of the group do
 * not keep it from going idle). A set that reads one topic has each partition held by one member,
 * which judges idleness from its own batches, alone. A set that reads several co-partitioned
 * topics shares one stream time per partition number, but partition 0 of one topic may be held by
 * one member and partition 0 of another by a second: each sees only its own records. So each batch
 * of such a topic notes, in its transaction, the wall time of its records in the window store, in
 * a register of its own topic and partition (no other member writes it: batches of different
 * topics never wait for each other there); a punctuation locks the registers of the set's topics
 * (so it waits for a batch that noted a record and has not committed) and moves stream time only
 * when none had a record for the idle timeout, by the wall time not yet accounted for, which it
 * keeps in a register of the set. The members together thus move a partition number's stream
 * time by the wall time elapsed since its last record, once.
 *
 * Each time is kept as the stream time of an internal entry of the window store (a stream time
 * never goes back, so a time below the stored one, from a clock behind, is ignored). Their names
 * hold a `:`, which a topology's names and topics never do, so no aggregation's store takes them.
 */

/** Aggregations of one group that read the same topics. */
export interface IdleSet {
  readonly group: string;
  /** The topics, sorted. */
  readonly topics: readonly string[];
  /** In the group's order (upstream first). */
  readonly aggregations: readonly AggregateNode[];
  /** Whether it reads several topics: their partitions of one number may be held by different members. */
  readonly shared: boolean;
  /** Its name in the punctuator's bookkeeping and in its register: `<group>:<topics joined by +>`. */
  readonly scope: string;
}

/** The group's idle sets, in the order of their first aggregation. */
export function idleSets(group: GroupPlan): IdleSet[] {
  const sets = new Map<string, { topics: string[]; aggregations: AggregateNode[] }>();
  for (const node of group.aggregations) {
    const topics = [...(group.aggregationTopics.get(node) ?? [])].sort();
    const id = topics.join('+');
    const set = sets.get(id);
    if (set) set.aggregations.push(node);
    else sets.set(id, { topics, aggregations: [node] });
  }
  return [...sets].map(([id, { topics, aggregations }]) => ({ group: group.group, topics, aggregations, shared: topics.length > 1, scope: `${group.group}:${id}` }));
}

/** The topics whose batches note the wall time of their records: those of the group's shared sets (none when idleness is off). */
export function notedTopics(group: GroupPlan, idleTimeoutMs: number): ReadonlySet<string> {
  if (!Number.isFinite(idleTimeoutMs)) return new Set();
  return new Set(idleSets(group).flatMap((set) => (set.shared ? set.topics : [])));
}

const lastRecordStore = (group: string, topic: string) => `${group}:${topic}:last-record`;
const punctuatedStore = (set: IdleSet) => `${set.scope}:punctuated`;

/** A topic's partition of a group, in one transaction of the group's window store. */
export interface NotedPartition {
  readonly windows: WindowStore<unknown>;
  readonly tx: unknown;
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
}

/**
 * Notes, in the batch's transaction, that the topic's partition had a record at `now`: one update
 * of a register only this partition's batches write (punctuations lock it to read it). Called
 * before the batch touches its window state, so that batches and punctuations take their locks in
 * one order (registers, then the aggregations').
 */
export async function noteRecord(at: NotedPartition, now: number): Promise<void> {
  await at.windows.update(at.tx, { store: lastRecordStore(at.group, at.topic), partition: at.partition }, [], () => ({ streamTime: now }));
}

/**
 * When each partition number of a shared set last had a record, by any member, as committed: read
 * once per punctuator tick, outside any transaction, so that a partition number that had one
 * within the idle timeout opens no transaction. Only a filter: the punctuation decides on the
 * registers it locks (see {@link punctuateIdle}). It reads the registers' partitions alone: they
 * hold no window, and `read` would query for windows at every tick all the same.
 */
export async function lastRecords(windows: Pick<WindowStore<unknown>, 'partitions'>, set: IdleSet): Promise<Map<number, number>> {
  const last = new Map<number, number>();
  for (const partitions of await Promise.all(set.topics.map((topic) => windows.partitions(lastRecordStore(set.group, topic))))) {
    for (const { partition, streamTime } of partitions) {
      if (streamTime !== undefined) last.set(partition, Math.max(streamTime, last.get(partition) ?? streamTime));
    }
  }
  return last;
}

/** What a punctuation of one partition (number) of an idle set goes by: what the tick that found it idle here read. */
export interface IdleTimes {
  readonly now: number;
  readonly idleTimeoutMs: number;
  /** This member's last record of the partition, or its assignment (see `Activity.since`). */
  readonly since: number;
  /** A shared set's last record of the partition number, on any member. */
  readonly lastRecord?: number | undefined;
}

/** Whether a shared set's partition number had a record within the idle timeout (a clock behind the noting member's sees it in its future: not idle either). */
export function recentRecord(times: IdleTimes): boolean {
  return times.lastRecord !== undefined && times.now - times.lastRecord < times.idleTimeoutMs;
}

/**
 * Punctuates a partition of an idle set, found idle on this member by a tick (`times`), in the
 * caller's transaction, closing what it reaches (an aggregation that never had a record stays
 * without one). How far is decided only under the locks the partition's batches take, so a batch
 * that committed since the tick is seen, and one that has not comes after the punctuation:
 * - one topic: each aggregation, under its window lock, moves to where `activity` says (its stream
 *   time when the idle period's first punctuation read it, plus the wall time since the period
 *   began: a target, not a step, so a punctuation repeated after a commit reported failed adds
 *   nothing), and stays when a batch of the partition ran since the tick;
 * - several topics: it first locks the set's topics' registers of the partition number, in topic
 *   order (a batch takes only its own topic's, before any window state: no lock cycle), and reads
 *   the last record there; when none came within the idle timeout, it moves each aggregation on by
 *   the wall time not yet accounted for, and keeps up to when it accounted in the set's register.
 */
export async function punctuateIdle(set: IdleSet, group: GroupPlan, ctx: RunContext, times: IdleTimes, activity: Activity): Promise<void> {
  if (!set.shared) {
    await punctuate(group, ctx, {
      aggregations: set.aggregations,
      advanceTo: (node, stored) => (stored === undefined ? undefined : activity.target(set.scope, ctx.partition, node.store, stored, times)),
    });
    return;
  }
  const windows = ctx.windows!;
  let lastRecord: number | undefined;
  for (const topic of set.topics) {
    await windows.update(ctx.tx, { store: lastRecordStore(set.group, topic), partition: ctx.partition }, [], ({ streamTime }) => {
      if (streamTime !== undefined) lastRecord = Math.max(streamTime, lastRecord ?? streamTime);
      return undefined;
    });
  }
  const { now, since } = times;
  if (recentRecord({ ...times, lastRecord })) return;
  let advance: number | undefined;
  await windows.update(ctx.tx, { store: punctuatedStore(set), partition: ctx.partition }, [], (state) => {
    const from = Math.max(since, lastRecord ?? since, state.streamTime ?? since);
    if (now <= from) return undefined;
    advance = now - from;
    return { streamTime: now };
  });
  if (advance === undefined) return;
  const by = advance;
  await punctuate(group, ctx, { aggregations: set.aggregations, advanceTo: (_node, stored) => (stored === undefined ? undefined : stored + by) });
}
