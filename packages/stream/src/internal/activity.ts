import type { Clock } from '@herald/core';

/** What this member knows of one partition (by number) of one scope. */
interface PartitionActivity {
  /**
   * Topics of the scope whose partition of this number this member holds. Empty while a batch of
   * a partition it does not hold runs (a redrive, or one revoked mid-batch): such a partition is
   * never idle here, and is forgotten once its last batch ends.
   */
  readonly topics: Set<string>;
  /** Wall time of the last record handled (or of the assignment). */
  lastActivity: number;
  /** Batches running now. */
  busy: number;
  /**
   * Events of an attempt that failed (or passed its deadline) and that are not settled yet: they
   * wait for their retry or their dead letter, so records are still coming. While any is, the
   * partition is not idle.
   */
  readonly pending: Set<string>;
  /**
   * Per aggregation of a single-topic set, its stream time when the first punctuation of the
   * current idle period read it (cleared when a batch begins).
   */
  readonly bases: Map<string, number>;
}

/**
 * Tracks, per scope (an idle set of a group: the topics some of its aggregations read, see
 * `idleClock.ts`) and partition number, when this member last handled a record of it (or took it
 * over), whether a batch of it runs and whether a record of it waits for a retry: which
 * partitions may be idle here. For a set of several topics, whether they are is decided against
 * what every member noted.
 */
export interface Activity {
  /** The scope's topics' partitions this member was assigned (the caller passes only the scope's topics). */
  assigned(scope: string, partitions: readonly { topic: string; partition: number }[]): void;
  revoked(scope: string, partitions: readonly { topic: string; partition: number }[]): void;
  /** A batch of `partition` starts (the partition is not idle while it runs). */
  begin(scope: string, partition: number): void;
  end(scope: string, partition: number): void;
  /**
   * An attempt at these events failed or passed its deadline: they are retried (after a backoff
   * that may outlast the idle timeout) or dead-lettered, and until then the partition is not idle.
   * Call before {@link end}.
   */
  failed(scope: string, partition: number, eventIds: readonly string[]): void;
  /**
   * These events of the partition are settled (applied, dead-lettered, parked): no longer
   * pending. Without `eventIds`, all of them: an attempt of the partition succeeded, and a
   * partition's batches run one at a time in offset order, so every earlier event is settled
   * (also one whose redrive was withdrawn, of which nothing else would tell).
   */
  settled(scope: string, partition: number, eventIds?: readonly string[]): void;
  /** Partitions of `scope` held by this member and idle here at `now`, in partition order. */
  idle(scope: string, now: number): number[];
  /** Wall time of this member's last record of the partition, or of its assignment (now when it holds none). */
  since(scope: string, partition: number): number;
  /**
   * Where a single-topic set's aggregation stands, at `now`, in an idle period that began at
   * `since` (what {@link since} said when the partition was found idle): its stream time when the
   * period's first punctuation read it (`stored` then) plus the wall time since. Undefined when
   * the period is over: a batch of the partition runs or ran since, or it is no longer held here.
   * Called where the punctuation holds the aggregation's window lock, so a batch that committed
   * before it is seen.
   */
  target(scope: string, partition: number, store: string, stored: number, at: { readonly now: number; readonly since: number }): number | undefined;
}

export function createActivity(clock: Clock, idleTimeoutMs: number): Activity {
  const scopes = new Map<string, Map<number, PartitionActivity>>();

  function entry(scope: string, partition: number): PartitionActivity {
    let partitions = scopes.get(scope);
    if (!partitions) scopes.set(scope, (partitions = new Map()));
    let found = partitions.get(partition);
    if (!found) partitions.set(partition, (found = { topics: new Set(), lastActivity: clock.now(), busy: 0, pending: new Set(), bases: new Map() }));
    return found;
  }

  return {
    assigned(scope, partitions) {
      for (const { topic, partition } of partitions) {
        const found = entry(scope, partition);
        found.topics.add(topic);
      }
    },
    revoked(scope, partitions) {
      const held = scopes.get(scope);
      for (const { topic, partition } of partitions) {
        const found = held?.get(partition);
        found?.topics.delete(topic);
        if (!found || found.topics.size > 0) continue;
        // kept while a batch of it still runs, so that batch ends cleanly; end() then forgets it
        if (found.busy === 0) held!.delete(partition);
      }
    },
    begin(scope, partition) {
      const found = entry(scope, partition);
      found.busy++;
      found.lastActivity = clock.now();
      found.bases.clear();
    },
    end(scope, partition) {
      const found = entry(scope, partition);
      found.busy--;
      found.lastActivity = clock.now();
      // a partition not held here (revoked mid-batch, or redriven on a member that never held it)
      // must not stay behind: the punctuator would move its stream time while its owner works
      if (found.topics.size === 0 && found.busy === 0) scopes.get(scope)!.delete(partition);
    },
    failed(scope, partition, eventIds) {
      const found = entry(scope, partition);
      for (const id of eventIds) found.pending.add(id);
    },
    settled(scope, partition, eventIds) {
      const found = scopes.get(scope)?.get(partition);
      if (!found || found.pending.size === 0) return;
      if (eventIds === undefined) found.pending.clear();
      else for (const id of eventIds) found.pending.delete(id);
      // the idle period begins once the last pending record is settled, not at its last attempt
      if (found.pending.size === 0) found.lastActivity = clock.now();
    },
    idle(scope, now) {
      const idle: number[] = [];
      for (const [partition, found] of scopes.get(scope) ?? []) {
        if (found.topics.size > 0 && found.busy === 0 && found.pending.size === 0 && now - found.lastActivity >= idleTimeoutMs) idle.push(partition);
      }
      return idle.sort((a, b) => a - b);
    },
    since(scope, partition) {
      return scopes.get(scope)?.get(partition)?.lastActivity ?? clock.now();
    },
    target(scope, partition, store, stored, { now, since }) {
      const found = scopes.get(scope)?.get(partition);
      if (!found || found.topics.size === 0 || found.busy > 0 || found.pending.size > 0 || found.lastActivity !== since) return undefined;
      let base = found.bases.get(store);
      if (base === undefined) found.bases.set(store, (base = stored));
      return base + (now - since);
    },
  };
}
