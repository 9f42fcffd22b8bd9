import { CoreErrors, HeraldError, silentLogger, systemClock, type Clock, type Logger, type TopicSpec } from '@herald/core';
import type { Durability } from '../internal/database.js';
import { nonEmpty, oneOf, positive, stripUndefined } from '../internal/validate.js';

/** Options of {@link sqliteLog}. Durations are in milliseconds. */
export interface SqliteLogOptions {
  /** The log file (created with its directory if missing). Several processes may open the same file. */
  readonly path: string;
  /** Topics to create (or grow) at open. */
  readonly topics?: readonly TopicSpec[];
  /** Partitions of a topic created implicitly by a publish or a subscribe. Default 8. */
  readonly defaultPartitions?: number;
  /**
   * `full` (default): a resolved publish is fsync'd and survives power loss. `normal`: the WAL is
   * not fsync'd at each commit; a resolved publish survives a process crash (`kill -9`) but the
   * last commits may be lost on power loss or an OS crash. Faster; not the default.
   */
  readonly durability?: Durability;
  /** How long a writer waits for another process's write lock before failing. Default 5 000. */
  readonly busyTimeoutMs?: number;
  /** A member silent for this long is dead and its partitions move. Default 3 000. */
  readonly sessionTimeoutMs?: number;
  /** How often members heartbeat (and rebalance). Default 500; must be below `sessionTimeoutMs`. */
  readonly heartbeatMs?: number;
  /** How often idle partitions look for records published by other processes. Default 5. */
  readonly pollMs?: number;
  /** Default upper bound of deliveries per batch. Default 500. */
  readonly maxBatch?: number;
  /** Age retention for topics that declare none. Default 7 days; `null` keeps records forever. */
  readonly retentionMs?: number | null;
  /** Per-partition size retention for topics that declare none. Default `null` (unlimited). */
  readonly retentionBytes?: number | null;
  /**
   * How long a consumer group's offsets are kept once it has no live member (Kafka's
   * `offsets.retention.minutes`, KIP-211). Default 7 days; `null` keeps them forever. Counted from
   * the group's last sign of life: a commit, a reset, a member storing its start position or
   * heartbeating, or a sweep seeing a member live. Then the retention sweep deletes its offsets,
   * leases and member rows, and a member joining it later starts at its start position, as a new
   * group's does.
   */
  readonly offsetsRetentionMs?: number | null;
  /** How often the retention sweep (records, then groups' offsets) runs. Default 60 000. */
  readonly retentionCheckMs?: number;
  /**
   * Whether this handle checkpoints the WAL and sweeps retention in the background. Default true;
   * a second handle on the same file in the same process (the relay thread's) leaves both to the
   * first.
   */
  readonly maintenance?: boolean;
  /**
   * Whether opening brings the file's Herald tables up to this version's schema (creating the file
   * and its tables when new). Default true. False opens only a file already at it and writes
   * nothing otherwise (its schema is read through a read-only handle first): one without Herald's
   * tables, or with older ones, is refused with `store-not-migrated`, a missing one with
   * `store-unavailable`. A tool opening an app's files, such as the herald CLI, leaves their schema
   * to the app.
   */
  readonly migrate?: boolean;
  /** Must be the wall clock when several processes share the file (leases compare timestamps). */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export type ResolvedLogOptions = Required<Omit<SqliteLogOptions, 'retentionMs' | 'retentionBytes' | 'offsetsRetentionMs'>> & {
  readonly retentionMs: number | null;
  readonly retentionBytes: number | null;
  readonly offsetsRetentionMs: number | null;
};

export const LOG_DEFAULTS = {
  defaultPartitions: 8,
  durability: 'full',
  busyTimeoutMs: 5000,
  sessionTimeoutMs: 3000,
  heartbeatMs: 500,
  pollMs: 5,
  maxBatch: 500,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: null,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionCheckMs: 60_000,
  maintenance: true,
  migrate: true,
} as const;

/** Applies defaults and validates; throws `invalid-options`. */
export function resolveLogOptions(options: SqliteLogOptions): ResolvedLogOptions {
  const name = 'sqliteLog';
  const o = { ...LOG_DEFAULTS, clock: systemClock, logger: silentLogger, topics: [], ...stripUndefined(options) };
  nonEmpty(name, 'path', o.path);
  if (o.path === ':memory:') throw new HeraldError(CoreErrors.invalidOptions, `${name}: path must be a file; ':memory:' cannot be shared by the connections the engine opens`);
  positive(name, 'defaultPartitions', o.defaultPartitions, true);
  oneOf(name, 'durability', o.durability, ['full', 'normal']);
  positive(name, 'busyTimeoutMs', o.busyTimeoutMs);
  positive(name, 'sessionTimeoutMs', o.sessionTimeoutMs);
  positive(name, 'heartbeatMs', o.heartbeatMs);
  if (o.heartbeatMs >= o.sessionTimeoutMs) positive(name, 'sessionTimeoutMs - heartbeatMs', o.sessionTimeoutMs - o.heartbeatMs);
  positive(name, 'pollMs', o.pollMs);
  positive(name, 'maxBatch', o.maxBatch, true);
  if (o.retentionMs !== null) positive(name, 'retentionMs', o.retentionMs);
  if (o.retentionBytes !== null) positive(name, 'retentionBytes', o.retentionBytes);
  if (o.offsetsRetentionMs !== null) positive(name, 'offsetsRetentionMs', o.offsetsRetentionMs);
  positive(name, 'retentionCheckMs', o.retentionCheckMs);
  return o as ResolvedLogOptions;
}
