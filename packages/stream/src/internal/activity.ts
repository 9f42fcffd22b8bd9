import type { Clock } from '@herald/core';

/** What this member knows of one partition (by number) of one group. */
interface PartitionActivity {
  /**
   * Topics of the group whose partition of this number this member holds. Empty while a batch of
   * a partition it does not hold runs (a redrive, or one revoked mid-batch): such a partition is
   * never idle here, and is forgotten once its last batch ends.
   */
  readonly topics: Set<string>;
  /** Wall time of the last record handled (or of the assignment). */
  lastActivity: number;
  /** Batches running now. */
  busy: number;
}

/**
 * Tracks, per group and partition, when this member last handled a record of it (or took it over)
 * and whether a batch of it runs: which partitions may be idle here. Whether they are is decided
 * in the punctuation's transaction, against what every member recorded (see `idleClock.ts`).
 */
export interface Activity {
  assigned(group: string, partitions: readonly { topic: string; partition: number }[]): void;
  revoked(group: string, partitions: readonly { topic: string; partition: number }[]): void;
  /** A batch of `partition` starts (the partition is not idle while it runs). */
  begin(group: string, partition: number): void;
  end(group: string, partition: number): void;
  /** Partitions of `group` held by this member and idle here at `now`, in partition order. */
  idle(group: string, now: number): number[];
  /** Wall time of this member's last record of the partition, or of its assignment (now when it holds none). */
  since(group: string, partition: number): number;
}

export function createActivity(clock: Clock, idleTimeoutMs: number): Activity {
  const groups = new Map<string, Map<number, PartitionActivity>>();

  function entry(group: string, partition: number): PartitionActivity {
    let partitions = groups.get(group);
    if (!partitions) groups.set(group, (partitions = new Map()));
    let found = partitions.get(partition);
    if (!found) partitions.set(partition, (found = { topics: new Set(), lastActivity: clock.now(), busy: 0 }));
    return found;
  }

  return {
    assigned(group, partitions) {
      for (const { topic, partition } of partitions) {
        const found = entry(group, partition);
        found.topics.add(topic);
      }
    },
    revoked(group, partitions) {
      const held = groups.get(group);
      for (const { topic, partition } of partitions) {
        const found = held?.get(partition);
        found?.topics.delete(topic);
        if (!found || found.topics.size > 0) continue;
        // kept while a batch of it still runs, so that batch ends cleanly; end() then forgets it
        if (found.busy === 0) held!.delete(partition);
      }
    },
    begin(group, partition) {
      const found = entry(group, partition);
      found.busy++;
      found.lastActivity = clock.now();
    },
    end(group, partition) {
      const found = entry(group, partition);
      found.busy--;
      found.lastActivity = clock.now();
      // a partition not held here (revoked mid-batch, or redriven on a member that never held it)
      // must not stay behind: the punctuator would move its stream time while its owner works
      if (found.topics.size === 0 && found.busy === 0) groups.get(group)!.delete(partition);
    },
    idle(group, now) {
      const idle: number[] = [];
      for (const [partition, found] of groups.get(group) ?? []) {
        if (found.topics.size > 0 && found.busy === 0 && now - found.lastActivity >= idleTimeoutMs) idle.push(partition);
      }
      return idle.sort((a, b) => a - b);
    },
    since(group, partition) {
      return groups.get(group)?.get(partition)?.lastActivity ?? clock.now();
    },
  };
}
