import type Database from 'better-sqlite3';
import type { TopicRegistry } from './topics.js';
import type { WriteQueue } from './writeQueue.js';

export interface RetentionSettings {
  /** Age limit for topics that declare none; `null` keeps records forever. */
  readonly retentionMs: number | null;
  /** Per-partition size limit for topics that declare none; `null` means unlimited. */
  readonly retentionBytes: number | null;
  /** Most records deleted per transaction, so a sweep never holds the write lock for long. */
  readonly chunk: number;
}

/**
 * The first record of a partition (the first parameter) young enough to keep (timestamp at or
 * after the fourth), among the positions from the second up to (not including) the third: one
 * step's chunk. A look from the partition's start up to the first young record read every old
 * record at every step, a sweep's work growing with the square of what it deleted, in the log's
 * write queue (3.7 s, a step of 0.5 s holding back every publish, for 290,000 records).
 */
export const FIRST_KEPT_SQL = 'SELECT position FROM herald_records WHERE pid = ? AND position >= ? AND position < ? AND timestamp >= ? ORDER BY position LIMIT 1';

/**
 * Deletes the oldest records of each partition while they are older than the topic's retention or
 * the partition is over its size (sizes are counted in UTF-16 code units of key + value, which is
 * bytes for ASCII). Only a prefix of a partition is ever deleted, so offsets stay dense from
 * `start_offset` on. Like Kafka, retention does not wait for consumer groups: a group that lags
 * behind it loses the records it had not read. Its member notices (its position is below the
 * start) and tells the sink (`DeliverySink.outOfRange`), which reports the gap and resumes at the
 * first retained offset or stops the group.
 */
export function createLogRetention(db: Database.Database, topics: TopicRegistry, queue: WriteQueue, settings: RetentionSettings) {
  const s = {
    partition: db.prepare<[number], { start_offset: number; bytes: number }>('SELECT start_offset, bytes FROM herald_partitions WHERE pid = ?'),
    firstKept: db.prepare<[number, number, number, number], number>(FIRST_KEPT_SQL).pluck(),
    sizes: db.prepare<[number, number, number], { position: number; size: number }>('SELECT position, size FROM herald_records WHERE pid = ? AND position >= ? ORDER BY position LIMIT ?'),
    sum: db.prepare<[number, number], number>('SELECT coalesce(sum(size), 0) FROM herald_records WHERE pid = ? AND position < ?').pluck(),
    remove: db.prepare('DELETE FROM herald_records WHERE pid = ? AND position < ?'),
    advance: db.prepare('UPDATE herald_partitions SET start_offset = ?, bytes = bytes - ? WHERE pid = ?'),
  };

  /** One bounded step on one partition; returns how many records it deleted. */
  function step(pid: number, retentionMs: number | null, retentionBytes: number | null, now: number, head: number): number {
    const { start_offset: start, bytes } = s.partition.get(pid)!;
    const limit = Math.min(head, start + settings.chunk);
    let target = start;
    if (retentionMs !== null) target = Math.max(target, s.firstKept.get(pid, start, limit, now - retentionMs) ?? limit);
    if (retentionBytes !== null && bytes > retentionBytes) {
      let excess = bytes - retentionBytes;
      let position = start;
      for (const row of s.sizes.iterate(pid, start, settings.chunk)) {
        if (excess <= 0) break;
        excess -= row.size;
        position = row.position + 1;
      }
      target = Math.max(target, Math.min(limit, position));
    }
    if (target <= start) return 0;
    const freed = s.sum.get(pid, target)!;
    const deleted = s.remove.run(pid, target).changes;
    s.advance.run(target, freed, pid);
    return deleted;
  }

  return {
    /** Runs the sweep to completion; returns how many records were deleted. */
    async sweep(): Promise<number> {
      let total = 0;
      for (const topic of topics.all()) {
        const retentionMs = topic.retentionMs ?? settings.retentionMs;
        const retentionBytes = topic.retentionBytes ?? settings.retentionBytes;
        if (retentionMs === null && retentionBytes === null) continue;
        for (const pid of topic.pids) {
          for (;;) {
            const deleted = await queue.enqueue((ctx) => step(pid, retentionMs, retentionBytes, ctx.now, ctx.head(pid)), { sync: false });
            total += deleted;
            if (deleted < settings.chunk) break;
          }
        }
      }
      return total;
    },
  };
}
