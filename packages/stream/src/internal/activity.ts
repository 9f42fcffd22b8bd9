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
  /** Per aggregation, the stream time read when the current idle period began. */
  readonly bases: Map<string, number>;
}

/** Tracks, per group and partition, when records last arrived: what the idle timeout needs. */
export interface Activity {
  assigned(group: string, partitions: readonly { topic: string; partition: number }[]): void;
  revoked(group: string, partitions: readonly { topic: string; partition: number }[]): void;
  /** A batch of `partition` starts (the partition is not idle while it runs). */
  begin(group: string, partition: number): void;
  end(group: string, partition: number): void;
  /** Partitions of `group` held by this member and idle at `now`, in partition order. */
  idle(group: string, now: number): number[];
  /**
   * Where an idle partition's stream time stands at `now`: the stream time it had when it went
   * idle, plus the wall time elapsed since its last record. Undefined when it never had one.
   */
  target(group: string, partition: number, store: string, stored: number | undefined, now: number): number | undefined;
}

export function createActivity(clock: Clock, idleTimeoutMs: number): Activity {
  const groups = new Map<string, Map<number, PartitionActivity>>();

  function entry(group: string, partition: number): PartitionActivity {
    let partitions = groups.get(group);
    if (!partitions) groups.set(group, (partitions = new Map()));
    let found = partitions.get(partition);
    if (!found) partitions.set(partition, (found = { topics: new Set(), lastActivity: clock.now(), busy: 0, bases: new Map() }));
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
      found.bases.clear();
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
    target(group, partition, store, stored, now) {
      const found = groups.get(group)?.get(partition);
      if (!found || stored === undefined) return undefined;
      let base = found.bases.get(store);
      if (base === undefined) found.bases.set(store, (base = stored));
      return base + (now - found.lastActivity);
    },
  };
}
