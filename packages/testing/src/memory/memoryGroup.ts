import type { CommittedOffset, DeliverySink, StartPosition, TopicPartition } from '@herald/core';
import type { MemoryLog, MemoryPartition } from './memoryLog.js';

/** One subscription: a member of a consumer group. */
export interface MemoryMember {
  readonly topics: readonly string[];
  readonly start: StartPosition;
  readonly maxBatch: number;
  readonly sink: DeliverySink;
  /** Partitions this member reads now, by `topic:partition`. */
  readonly owned: Map<string, Cursor>;
  /** Whether `assigned` was called at least once. */
  told: boolean;
  /** Partitions being revoked: commits for them are still accepted until `revoked` resolves. */
  readonly revoking: Set<string>;
  /** Crashed members get no `revoked` call and their commits are ignored. */
  crashed: boolean;
  left: boolean;
}

interface Cursor {
  readonly topic: string;
  readonly partition: number;
  position: number;
  active: boolean;
  wake?: () => void;
}

/** What a group needs from its surroundings. */
export interface GroupDeps {
  readonly log: MemoryLog;
  /** Called when the sink's `deliver` or `revoked` rejects; a rejected batch is delivered again after `retryDelay()`. */
  readonly onSinkError: (error: unknown, where: TopicPartition) => void;
  readonly retryDelay: () => Promise<void>;
}

/**
 * A consumer group in one process: members, committed offsets, and an assignment that is
 * recomputed (one change at a time) whenever a member joins or leaves. Partitions that move are
 * first revoked from their old owner (its `revoked` settles, so it can commit) and only then handed
 * to the new owner, who starts at the committed offset.
 */
export interface MemoryGroup {
  readonly members: readonly MemoryMember[];
  readonly committed: Map<string, number>;
  join(member: MemoryMember): Promise<void>;
  leave(member: MemoryMember): Promise<void>;
  /** Stops a member at once (no `revoked`, no more commits), then rebalances without it. */
  crash(member: MemoryMember): Promise<void>;
  commit(member: MemoryMember, offsets: readonly CommittedOffset[]): void;
  /** Runs `change` after every rebalance queued before it. */
  exclusive<T>(change: () => T | Promise<T>): Promise<T>;
  /** Recomputes the assignment (after a topic grew), revoking and assigning what moved. */
  rebalance(): Promise<void>;
}

export const tpKey = (topic: string, partition: number): string => `${topic}:${partition}`;

export function createMemoryGroup(deps: GroupDeps): MemoryGroup {
  const members: MemoryMember[] = [];
  const committed = new Map<string, number>();
  let queue: Promise<unknown> = Promise.resolve();

  function exclusive<T>(change: () => T | Promise<T>): Promise<T> {
    const next = queue.then(change);
    queue = next.catch(() => {});
    return next;
  }

  /** Per topic, partition i goes to the i-th eligible member, round robin, in join order. */
  function targetAssignment(): Map<string, MemoryMember> {
    const target = new Map<string, MemoryMember>();
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const eligible = members.filter((m) => m.topics.includes(topic));
      const partitions = deps.log.topic(topic).length;
      for (let p = 0; p < partitions; p++) target.set(tpKey(topic, p), eligible[p % eligible.length]!);
    }
    return target;
  }

  async function revokeLost(member: MemoryMember, target: Map<string, MemoryMember>): Promise<void> {
    const lost: TopicPartition[] = [];
    for (const [key, cursor] of member.owned) {
      if (target.get(key) === member) continue;
      stop(cursor);
      member.owned.delete(key);
      member.revoking.add(key);
      lost.push({ topic: cursor.topic, partition: cursor.partition });
    }
    if (lost.length === 0) return;
    try {
      if (!member.crashed) await member.sink.revoked(lost);
    } catch (error) {
      deps.onSinkError(error, lost[0]!);
    } finally {
      for (const tp of lost) member.revoking.delete(tpKey(tp.topic, tp.partition));
    }
  }

  function assignGained(member: MemoryMember, target: Map<string, MemoryMember>): void {
    const gained: Cursor[] = [];
    for (const [key, owner] of target) {
      if (owner !== member || member.owned.has(key)) continue;
      const split = key.lastIndexOf(':');
      const topic = key.slice(0, split);
      const partition = Number(key.slice(split + 1));
      const log = deps.log.topic(topic)[partition]!;
      // a partition the group never committed on starts where the group's start says, and that
      // position is recorded as the group's (as the embedded log and the Kafka adapter do): the
      // next owner resumes there, and the inspector's lag counts from it
      let position = committed.get(key);
      if (position === undefined) committed.set(key, (position = deps.log.position(log, member.start)));
      const cursor: Cursor = { topic, partition, position, active: true };
      member.owned.set(key, cursor);
      gained.push(cursor);
    }
    // the first assignment is reported even when empty: that is when the member is ready
    if (gained.length === 0 && member.told) return;
    member.told = true;
    member.sink.assigned?.(gained.map((c) => ({ topic: c.topic, partition: c.partition })));
    for (const cursor of gained) void pump(member, cursor, deps.log.topic(cursor.topic)[cursor.partition]!);
  }

  async function rebalance(departed?: MemoryMember): Promise<void> {
    const target = targetAssignment();
    const holders = departed ? [...members, departed] : members;
    await Promise.all(holders.map((m) => revokeLost(m, target)));
    for (const member of members) assignGained(member, target);
  }

  async function pump(member: MemoryMember, cursor: Cursor, log: MemoryPartition): Promise<void> {
    while (cursor.active) {
      if (cursor.position >= log.records.length) {
        await new Promise<void>((resolve) => {
          cursor.wake = resolve;
          log.waiters.add(resolve);
        });
        log.waiters.delete(cursor.wake!);
        continue;
      }
      const from = cursor.position;
      const deliveries = log.records.slice(from, from + member.maxBatch);
      cursor.position += deliveries.length;
      try {
        await member.sink.deliver({ topic: cursor.topic, partition: cursor.partition, deliveries, highWatermark: log.records.length });
      } catch (error) {
        if (!cursor.active) return;
        deps.onSinkError(error, cursor);
        cursor.position = from;
        await deps.retryDelay();
      }
    }
  }

  function remove(member: MemoryMember): boolean {
    const index = members.indexOf(member);
    if (index === -1) return false;
    members.splice(index, 1);
    return true;
  }

  const leave = (member: MemoryMember): Promise<void> =>
    exclusive(async () => {
      if (!remove(member)) return;
      await rebalance(member);
      member.left = true;
    });

  return {
    members,
    committed,
    exclusive,
    join: (member) =>
      exclusive(() => {
        members.push(member);
        return rebalance();
      }),
    leave,
    rebalance: () => exclusive(() => rebalance()),
    crash(member) {
      member.crashed = true;
      for (const cursor of member.owned.values()) stop(cursor);
      return leave(member);
    },
    commit(member, offsets) {
      for (const { topic, partition, offset } of offsets) {
        if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`commit: offset must be a non-negative integer, got ${offset}`);
        const key = tpKey(topic, partition);
        if (member.crashed || member.left) continue;
        if (member.owned.has(key) || member.revoking.has(key)) committed.set(key, offset);
      }
    },
  };
}

function stop(cursor: Cursor): void {
  cursor.active = false;
  cursor.wake?.();
}
