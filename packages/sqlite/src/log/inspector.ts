import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError } from '@herald/core';
import type { BrokerInspector, Clock, PartitionLag, TopicDescription } from '@herald/core';
import { logReads } from '../internal/storeErrors.js';
import { readLogDefaults } from './logDefaults.js';

export interface InspectorSettings {
  readonly clock: Clock;
  /** The session of a member whose row names none (written by an earlier version); a member's own otherwise. */
  readonly sessionTimeoutMs: number;
  /** The retention for topics that declare none, unless the sweeping handle recorded its own. */
  readonly retentionMs: number | null;
  readonly retentionBytes: number | null;
}

interface TopicRow { name: string; retention_ms: number | null; retention_bytes: number | null }
interface PartitionRow { topic: string; partition: number; start_offset: number; next_offset: number }
interface GroupPartitionRow extends PartitionRow { committed: number | null }

const DESCRIBE_TOPICS = 'log: describeTopics';
const DESCRIBE_GROUP = 'log: describeGroup';

/**
 * The log's read side, straight from its tables (never from a member's memory), so it sees what
 * every process sharing the file wrote and needs no group membership: partitions' retained ranges
 * (`start_offset`, `next_offset`), retention from the topic (else the default the sweeping handle,
 * the app's, recorded; else this handle's), committed
 * positions from `herald_offsets` and live members from `herald_members` (a heartbeat within the
 * member's own session, as it and its group judge it, whatever this handle's `sessionTimeoutMs`). Each call reads in one read transaction, a consistent snapshot of the file.
 * SQLite's failures are mapped as the log's writes' are, naming the method and the file (see `logReads`).
 *
 * A group's position in a partition is stored when a member first takes the partition (its start
 * position, whether 'earliest', 'latest' or a timestamp), so a partition the group has been given
 * reports that position as `committed`, commit or not, and a group stuck before its first commit
 * already lags from where it really starts; only partitions no member of the group ever held (added
 * after it last ran, or of a topic named in `options.topics` the group never ran on) report null.
 */
export function createInspector(db: Database.Database, settings: InspectorSettings): BrokerInspector {
  const s = {
    topics: logReads.guard(db.prepare<[], TopicRow>('SELECT name, retention_ms, retention_bytes FROM herald_topics ORDER BY name'), DESCRIBE_TOPICS),
    partitions: logReads.guard(db.prepare<[], PartitionRow>('SELECT topic, partition, start_offset, next_offset FROM herald_partitions ORDER BY topic, partition'), DESCRIBE_TOPICS),
    defaults: logReads.guard(db.prepare<[], { name: string; value: number | null }>('SELECT name, value FROM herald_log_defaults'), DESCRIBE_TOPICS),
    groups: logReads.guard(
      db
        .prepare<[number, number], string>('SELECT group_name FROM herald_offsets UNION SELECT group_name FROM herald_members WHERE heartbeat_at + COALESCE(session_timeout_ms, ?) >= ? ORDER BY group_name')
        .pluck(),
      'log: listGroups',
    ),
    members: logReads.guard(
      db.prepare<[string, number, number], number>('SELECT count(*) FROM herald_members WHERE group_name = ? AND heartbeat_at + COALESCE(session_timeout_ms, ?) >= ?').pluck(),
      DESCRIBE_GROUP,
    ),
    // every partition of the topics the group holds a position in or the caller named (a JSON
    // array), with the group's position if any
    positions: logReads.guard(
      db.prepare<{ group: string; named: string }, GroupPartitionRow>(
        `SELECT p.topic, p.partition, p.start_offset, p.next_offset, o.next_offset AS committed
         FROM herald_partitions p LEFT JOIN herald_offsets o ON o.group_name = @group AND o.pid = p.pid
         WHERE p.topic IN (SELECT held.topic FROM herald_offsets mine JOIN herald_partitions held ON held.pid = mine.pid WHERE mine.group_name = @group)
            OR p.topic IN (SELECT value FROM json_each(@named))
         ORDER BY p.topic, p.partition`,
      ),
      DESCRIBE_GROUP,
    ),
  };
  const readTopics = db.transaction(() => ({ topics: s.topics.all(), partitions: s.partitions.all(), defaults: readLogDefaults(s.defaults.all(), { retentionMs: settings.retentionMs, retentionBytes: settings.retentionBytes }) }));
  const readGroup = db.transaction((group: string, named: readonly string[]) => ({
    members: s.members.get(group, settings.sessionTimeoutMs, settings.clock.now())!,
    positions: s.positions.all({ group, named: JSON.stringify(named) }),
  }));

  return {
    async describeTopics(names) {
      const { topics, partitions, defaults } = readTopics.deferred();
      const wanted = names === undefined ? undefined : new Set(names);
      return topics
        .filter((topic) => wanted === undefined || wanted.has(topic.name))
        .map(
          (topic): TopicDescription => ({
            name: topic.name,
            partitions: partitions.filter((p) => p.topic === topic.name).map((p) => ({ partition: p.partition, start: p.start_offset, end: p.next_offset })),
            retentionMs: topic.retention_ms ?? defaults.retentionMs,
            retentionBytes: topic.retention_bytes ?? defaults.retentionBytes,
          }),
        );
    },

    async listGroups() {
      return s.groups.all(settings.sessionTimeoutMs, settings.clock.now());
    },

    async describeGroup(group, options) {
      const named = options?.topics ?? [];
      if (!Array.isArray(named) || !named.every((t) => typeof t === 'string')) {
        throw new HeraldError(CoreErrors.invalidOptions, 'log: describeGroup takes its topics as an array of topic names');
      }
      const { members, positions } = readGroup.deferred(group, named);
      const partitions = positions.map((row): PartitionLag => {
        const from = Math.max(row.committed ?? row.start_offset, row.start_offset);
        return { topic: row.topic, partition: row.partition, committed: row.committed, end: row.next_offset, lag: Math.max(0, row.next_offset - from) };
      });
      return { group, members, partitions, totalLag: partitions.reduce((sum, p) => sum + p.lag, 0) };
    },
  };
}
