import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError, partitionForKey, type TopicPartition, type TopicSpec } from '@herald/core';
import { logReads } from '../internal/storeErrors.js';

/** A topic as the log knows it: its partitions' ids, in partition order. */
export interface TopicInfo {
  readonly name: string;
  readonly partitions: number;
  readonly pids: readonly number[];
  readonly retentionMs: number | null;
  readonly retentionBytes: number | null;
  /** The partition of `key` (Kafka's murmur2 placement), memoised. */
  partitionOf(key: string): number;
}

/** Topic metadata, cached in memory and refreshed when another connection changes the topology. */
export interface TopicRegistry {
  /** Inside a write transaction: reloads the cache if the topology changed since it was read. */
  refresh(): void;
  /** Inside a write transaction: the topic, created with the default partition count if missing. */
  resolve(name: string, now: number): TopicInfo;
  /** Inside a write transaction: creates the topic or grows it to `spec.partitions`; sets retention. */
  ensure(spec: TopicSpec, now: number): void;
  /** The cached topic, loading the cache if it is cold (any connection state). */
  get(name: string): TopicInfo | undefined;
  /** Where a partition id points. */
  locate(pid: number): TopicPartition | undefined;
  all(): readonly TopicInfo[];
  /** Forgets the cache (after a rollback). */
  invalidate(): void;
}

interface TopicRow { name: string; partitions: number; retention_ms: number | null; retention_bytes: number | null }
interface PartitionRow { pid: number; topic: string; partition: number }

const KEY_CACHE_LIMIT = 50_000;
const READ = 'log: reading topics';

/**
 * The cache is loaded in write transactions and outside them (a cold cache, `read`), so the
 * loading reads map SQLite's failures themselves, as the write queue maps its own (see `logReads`).
 */
export function createTopicRegistry(db: Database.Database, defaultPartitions: number): TopicRegistry {
  const stmts = {
    version: logReads.guard(db.prepare<[], number>("SELECT value FROM herald_log_meta WHERE name = 'topology'").pluck(), READ),
    bump: db.prepare("UPDATE herald_log_meta SET value = value + 1 WHERE name = 'topology'"),
    topics: logReads.guard(db.prepare<[], TopicRow>('SELECT name, partitions, retention_ms, retention_bytes FROM herald_topics'), READ),
    partitions: logReads.guard(db.prepare<[], PartitionRow>('SELECT pid, topic, partition FROM herald_partitions ORDER BY topic, partition'), READ),
    insertTopic: db.prepare('INSERT INTO herald_topics (name, partitions, retention_ms, retention_bytes, created_at) VALUES (?, ?, ?, ?, ?)'),
    updateTopic: db.prepare('UPDATE herald_topics SET partitions = ?, retention_ms = ?, retention_bytes = ? WHERE name = ?'),
    insertPartition: db.prepare('INSERT INTO herald_partitions (topic, partition) VALUES (?, ?)'),
  };
  let version = -1;
  let byName = new Map<string, TopicInfo>();
  let byPid = new Map<number, TopicPartition>();

  function load(): void {
    const current = stmts.version.get()!;
    const pids = new Map<string, number[]>();
    const located = new Map<number, TopicPartition>();
    for (const row of stmts.partitions.all()) {
      let list = pids.get(row.topic);
      if (!list) pids.set(row.topic, (list = []));
      list[row.partition] = row.pid;
      located.set(row.pid, { topic: row.topic, partition: row.partition });
    }
    const named = new Map<string, TopicInfo>();
    for (const row of stmts.topics.all()) named.set(row.name, topicInfo(row, pids.get(row.name) ?? []));
    // all at once, after every read succeeded: a failed load leaves the cache as it was, to load again
    version = current;
    byPid = located;
    byName = named;
  }

  function write(spec: { name: string; partitions: number; retentionMs: number | null; retentionBytes: number | null }, now: number): void {
    const existing = byName.get(spec.name);
    const from = existing?.partitions ?? 0;
    if (existing) stmts.updateTopic.run(Math.max(from, spec.partitions), spec.retentionMs, spec.retentionBytes, spec.name);
    else stmts.insertTopic.run(spec.name, spec.partitions, spec.retentionMs, spec.retentionBytes, now);
    for (let p = from; p < spec.partitions; p++) stmts.insertPartition.run(spec.name, p);
    stmts.bump.run();
    load();
  }

  return {
    refresh() {
      if (stmts.version.get() !== version) load();
    },
    resolve(name, now) {
      const known = byName.get(name);
      if (known) return known;
      checkName(name);
      write({ name, partitions: defaultPartitions, retentionMs: null, retentionBytes: null }, now);
      return byName.get(name)!;
    },
    ensure(spec, now) {
      checkName(spec.name);
      if (!(Number.isInteger(spec.partitions) && spec.partitions > 0)) {
        throw new HeraldError(CoreErrors.invalidOptions, `log: topic ${spec.name} needs a positive integer partition count, got ${spec.partitions}`);
      }
      const existing = byName.get(spec.name);
      const retentionMs = spec.retentionMs ?? existing?.retentionMs ?? null;
      const retentionBytes = spec.retentionBytes ?? existing?.retentionBytes ?? null;
      const same = existing && existing.partitions >= spec.partitions && existing.retentionMs === retentionMs && existing.retentionBytes === retentionBytes;
      if (!same) write({ name: spec.name, partitions: spec.partitions, retentionMs, retentionBytes }, now);
    },
    get(name) {
      if (version < 0) load();
      return byName.get(name);
    },
    locate(pid) {
      if (version < 0 || !byPid.has(pid)) load();
      return byPid.get(pid);
    },
    all() {
      if (version < 0) load();
      return [...byName.values()];
    },
    invalidate() {
      version = -1;
    },
  };
}

function topicInfo(row: TopicRow, pids: readonly number[]): TopicInfo {
  const cache = new Map<string, number>();
  const partitions = row.partitions;
  return {
    name: row.name,
    partitions,
    pids,
    retentionMs: row.retention_ms,
    retentionBytes: row.retention_bytes,
    partitionOf(key) {
      let partition = cache.get(key);
      if (partition === undefined) {
        if (cache.size >= KEY_CACHE_LIMIT) cache.clear();
        partition = partitionForKey(key, partitions);
        cache.set(key, partition);
      }
      return partition;
    },
  };
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 249) {
    throw new HeraldError(CoreErrors.invalidOptions, `log: invalid topic name ${JSON.stringify(name)}`);
  }
}
