import type Database from 'better-sqlite3';
import type { Clock, Logger } from '@herald/core';
import { logReads } from '../internal/storeErrors.js';
import type { WriteQueue } from './writeQueue.js';

export interface OffsetsRetentionSettings {
  /** How long a group without a live member is kept after its last sign of life; `null`: forever. */
  readonly offsetsRetentionMs: number | null;
  /** The session of a member whose row names none (written by an earlier version); a member's own otherwise. */
  readonly sessionTimeoutMs: number;
  /** Most groups deleted per transaction, so a sweep never holds the write lock for long. */
  readonly chunk: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** How many of the expired groups' names a log line carries (a file may hold thousands of them). */
const LOGGED_NAMES = 20;

/** Stamps and deletions lost in a power cut are made again by the next sweep: they settle at COMMIT. */
const UNSYNCED = { sync: false } as const;

const LIVE = 'heartbeat_at + COALESCE(session_timeout_ms, @session) >= @now';

/**
 * Offsets retention, as Kafka's (`offsets.retention.minutes`, KIP-211): a consumer group that has
 * had no live member for `offsetsRetentionMs` loses its committed offsets, and with them its
 * leases and its dead members' rows; it is gone from `listGroups`. Kafka counts from when the group
 * became empty; here, from the group's last sign of life in the file: a position written (a
 * commit, the start position a member stores when it first takes a partition, a reset, each
 * stamping the row's `active_at`), a member's last heartbeat (the row a dead member leaves), or a
 * sweep seeing a member live (it stamps the group's positions, since a member that leaves cleanly
 * deletes its row, and a process of the earlier release commits without a stamp). A group that
 * comes back afterwards is a new group: it starts at its start position.
 *
 * Positions without a stamp (written before the upgrade that added it, or by a process of the
 * earlier release still running on the file) are stamped by the sweep that finds them, never
 * expired by it. Which groups to look at is read outside the write lock (a scan of every stored
 * position); each is checked again, and deleted, under it, `chunk` groups per transaction.
 */
export function createOffsetsRetention(db: Database.Database, queue: WriteQueue, settings: OffsetsRetentionSettings) {
  const s = {
    // groups with a position not stamped yet, and groups whose last sign of life is at or before the cutoff
    candidates: logReads.guard(
      db.prepare<{ cutoff: number }, { group_name: string; unstamped: number }>(
        `SELECT group_name, sum(unstamped) AS unstamped FROM (
           SELECT group_name, max(active_at) AS at, count(*) - count(active_at) AS unstamped FROM herald_offsets GROUP BY group_name
           UNION ALL SELECT group_name, max(heartbeat_at), 0 FROM herald_members GROUP BY group_name
         ) GROUP BY group_name HAVING sum(unstamped) > 0 OR max(at) <= @cutoff ORDER BY group_name`,
      ),
      'log: offsets retention',
    ),
    stampLive: db.prepare(`UPDATE herald_offsets SET active_at = @now WHERE group_name IN (SELECT group_name FROM herald_members WHERE ${LIVE})`),
    stamp: db.prepare('UPDATE herald_offsets SET active_at = ? WHERE group_name = ? AND active_at IS NULL'),
    active: db
      .prepare<{ group: string; now: number; session: number; cutoff: number }, number>(
        `SELECT 1 WHERE EXISTS (SELECT 1 FROM herald_members WHERE group_name = @group AND (${LIVE} OR heartbeat_at > @cutoff))
            OR EXISTS (SELECT 1 FROM herald_offsets WHERE group_name = @group AND (active_at IS NULL OR active_at > @cutoff))`,
      )
      .pluck(),
    removeOffsets: db.prepare('DELETE FROM herald_offsets WHERE group_name = ?'),
    removeLeases: db.prepare('DELETE FROM herald_leases WHERE group_name = ?'),
    removeMembers: db.prepare('DELETE FROM herald_members WHERE group_name = ?'),
  };
  const session = settings.sessionTimeoutMs;
  const chunk = settings.chunk;

  /** Stamps with `now` the positions of the groups with a live member, and those of `unstamped` without a stamp. */
  function stamp(unstamped: readonly string[], now: number): void {
    s.stampLive.run({ now, session });
    for (const group of unstamped) s.stamp.run(now, group);
  }

  /** Deletes the groups of `names` still expired as of the transaction; returns them. */
  function expire(names: readonly string[], now: number, retentionMs: number): string[] {
    const cutoff = now - retentionMs;
    return names.filter((group) => {
      if (s.active.get({ group, now, session, cutoff }) !== undefined) return false;
      s.removeOffsets.run(group);
      s.removeLeases.run(group);
      s.removeMembers.run(group);
      return true;
    });
  }

  return {
    /** Stamps, then expires what is due; resolves with how many groups were deleted. */
    async sweep(): Promise<number> {
      const retentionMs = settings.offsetsRetentionMs;
      if (retentionMs === null) return 0;
      const rows = s.candidates.all({ cutoff: settings.clock.now() - retentionMs });
      const unstamped = rows.filter((row) => row.unstamped > 0).map((row) => row.group_name);
      const due = rows.filter((row) => row.unstamped === 0).map((row) => row.group_name);
      const expired: string[] = [];
      try {
        const first = due.slice(0, chunk);
        expired.push(...(await queue.enqueue((ctx) => (stamp(unstamped, ctx.now), expire(first, ctx.now, retentionMs)), UNSYNCED)));
        for (let i = chunk; i < due.length; i += chunk) {
          const names = due.slice(i, i + chunk);
          expired.push(...(await queue.enqueue((ctx) => expire(names, ctx.now, retentionMs), UNSYNCED)));
        }
      } finally {
        if (expired.length > 0) {
          settings.logger.info(
            `log: expired the offsets of ${expired.length} consumer group(s) with no live member and no sign of life for offsetsRetentionMs; a member joining one again starts at its start position`,
            { path: db.name, count: expired.length, groups: expired.slice(0, LOGGED_NAMES), offsetsRetentionMs: retentionMs },
          );
        }
      }
      return expired.length;
    },
  };
}
