import {
  checkRecordRange,
  CoreErrors,
  HeraldError,
  type Broker,
  type BrokerInspector,
  type DescribeGroupOptions,
  type DeliverySink,
  type OffsetReset,
  type OutgoingRecord,
  type RecordReader,
  type OffsetResetOptions,
  type SubscribeOptions,
  type Subscription,
  type TopicAdmin,
  type TopicSpec,
} from '@herald/core';
import { startCheckpointer } from '../internal/checkpointer.js';
import { walSyncFor } from '../internal/database.js';
import { openAtSchema } from '../internal/migrate.js';
import { createGroupAccess } from './groups.js';
import { createInspector } from './inspector.js';
import { joinGroup, type Member } from './member.js';
import { createNotifier } from './notifier.js';
import { resolveLogOptions, type SqliteLogOptions } from './options.js';
import { createHandOver, type Appended } from './handOver.js';
import { createRecordAccess, type Placed } from './records.js';
import { recordLogDefaults, warnOtherDefaults } from './logDefaults.js';
import { createOffsetsRetention } from './offsetsRetention.js';
import { createLogRetention } from './retention.js';
import { LOG_MIGRATIONS } from './schema.js';
import { createTopicRegistry } from './topics.js';
import { createWriteQueue } from './writeQueue.js';

/** The embedded log: a {@link Broker} with topic provisioning, offset reset, inspection and reading. */
export interface SqliteLog extends Broker, TopicAdmin, OffsetReset, BrokerInspector, RecordReader {
  /**
   * Runs the retention sweep now (it also runs every `retentionCheckMs`): records past their
   * topic's retention, then the groups idle past `offsetsRetentionMs`; resolves with the records deleted.
   */
  sweepRetention(): Promise<number>;
  /**
   * Another connection in this process (a worker thread of the app) just committed records: consumers
   * waiting at a partition's end look now instead of at their next poll.
   */
  poke(): void;
  /**
   * Simulates this process dying, for failure tests: every subscription stops fetching at once,
   * gets no `revoked` call, releases nothing and its later commits are ignored; queued publishes
   * fail; the file is closed. The group's other members take the partitions over once
   * `sessionTimeoutMs` has passed, from the last committed offsets.
   */
  crash(): Promise<void>;
}

const RETENTION_CHUNK = 5000;
/** Most consumer groups the offsets retention deletes per transaction. */
const GROUPS_CHUNK = 500;
/** How often the background thread checkpoints the WAL. */
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * Creates the embedded log: a durable, partitioned, replayable log with consumer groups in one
 * SQLite file, Herald's default broker.
 *
 * Contract: `publish` resolves once its records are committed and fsync'd (with the default
 * `durability: 'full'`): they survive `kill -9` and power loss. Publishes issued in the same turn
 * of the event loop share one transaction and one fsync (group commit), and the fsync runs off the
 * event loop (see `createWalSync`), so a consumer may read a record in the fraction of a
 * millisecond between its commit and its fsync; its publisher is told only after. Heartbeats,
 * leases and offset commits do not wait for the fsync (losing one in a power cut costs a
 * rebalance or a redelivery, never a record). A record's partition is
 * `partitionForKey(key, partitions)`, so one key's records keep their order. Unknown topics are
 * created with `defaultPartitions`; a topic's partition count only grows.
 *
 * Several processes may open the same file: members of a group share its partitions through
 * leases in the file (deterministic assignment over the live members, heartbeats every
 * `heartbeatMs`, a silent member's partitions move after `sessionTimeoutMs`); commits of a member
 * that lost a lease are ignored. Each owned partition is delivered batch by batch, the next batch
 * only after `deliver` resolved; `revoked` may be called while a `deliver` of the partition is
 * still pending, but no `deliver` of it starts after that. Retention (age, size) runs in the
 * background and, like Kafka's, may drop records a slow group has not read; the group's sink is
 * then told which (`DeliverySink.outOfRange`) before anything after them is delivered. The same
 * sweep deletes the offsets of consumer groups idle, without a live member, for
 * `offsetsRetentionMs` (Kafka's offsets retention; see `createOffsetsRetention`): one that returns
 * starts at its start position.
 *
 * Inspection (`describeTopics`, `listGroups`, `describeGroup`) reads the file's tables, so any
 * handle on the file (one that never subscribed, in another process) sees every group's committed
 * offsets, lag and live members; see `createInspector`.
 *
 * `read` (the {@link RecordReader} ability) reads a partition's rows from the file: no member
 * row, lease or offset is written, so `herald tail` leaves nothing behind.
 *
 * `close()` is idempotent: it closes every subscription (revoking and releasing their
 * partitions), waits for queued publishes, then closes the file.
 *
 * @example
 * const log = sqliteLog({ path: '.herald/log.db', topics: [{ name: 'orders', partitions: 8 }] });
 * await log.publish([{ topic: 'orders', key: 'order-1', value: JSON.stringify(envelope) }]);
 */
export function sqliteLog(options: SqliteLogOptions): SqliteLog {
  const o = resolveLogOptions(options);
  const db = openAtSchema({ path: o.path, busyTimeoutMs: o.busyTimeoutMs }, 'log', LOG_MIGRATIONS, o.migrate);
  const wal = walSyncFor(o.path, o.durability);
  const checkpointer = o.maintenance ? startCheckpointer(o.path, CHECKPOINT_INTERVAL_MS) : undefined;
  const topics = createTopicRegistry(db, o.defaultPartitions);
  const notifier = createNotifier(db, { pollMs: o.pollMs, logger: o.logger });
  // before the write queue takes the connection over (its busy timeout goes to 0): setup may wait
  // for another process's lock
  const otherDefaults = db.transaction(() => {
    topics.refresh();
    for (const spec of o.topics) topics.ensure(spec, o.clock.now());
    return o.maintenance ? recordLogDefaults(db, o) : undefined;
  }).immediate();
  if (otherDefaults) warnOtherDefaults(o.logger, o.path, otherDefaults, o);
  const queue = createWriteQueue({
    db,
    clock: o.clock,
    busyTimeoutMs: o.busyTimeoutMs,
    durable: () => wal.sync(),
    begin: () => topics.refresh(),
    rolledBack: () => topics.invalidate(),
    committed: (heads) => notifier.published(heads),
  });
  const records = createRecordAccess(db, topics);
  const groups = createGroupAccess(db, topics, records);
  const retention = createLogRetention(db, topics, queue, { retentionMs: o.retentionMs, retentionBytes: o.retentionBytes, chunk: RETENTION_CHUNK });
  const offsetsRetention = createOffsetsRetention(db, queue, { offsetsRetentionMs: o.offsetsRetentionMs, sessionTimeoutMs: o.sessionTimeoutMs, clock: o.clock, logger: o.logger, chunk: GROUPS_CHUNK });
  const inspector = createInspector(db, { clock: o.clock, sessionTimeoutMs: o.sessionTimeoutMs, retentionMs: o.retentionMs, retentionBytes: o.retentionBytes });
  const subscriptions = new Set<Subscription>();
  const members = new Set<Member>();
  /** Per topic, the subscriptions of this handle reading it: how many reads a handed-over record waits for. */
  const readers = new Map<string, number>();
  const countReaders = (names: readonly string[], by: number) => {
    for (const name of new Set(names)) readers.set(name, (readers.get(name) ?? 0) + by);
  };
  const handOver = createHandOver({ records, topics, notifier, readers: (topic) => readers.get(topic) ?? 0 });
  const memberDeps = { queue, groups, records: handOver.records, topics, notifier, clock: o.clock, logger: o.logger, sessionTimeoutMs: o.sessionTimeoutMs, heartbeatMs: o.heartbeatMs, maxBatch: o.maxBatch };
  let closing: Promise<void> | undefined;
  let sweeping: Promise<number> | undefined;

  function sweep(): Promise<number> {
    sweeping ??= (async () => {
      const deleted = await retention.sweep();
      await offsetsRetention.sweep();
      return deleted;
    })().finally(() => (sweeping = undefined));
    return sweeping;
  }
  const sweeper = o.maintenance ? setInterval(() => void sweep().catch((error: unknown) => o.logger.warn('log: retention sweep failed', { error })), o.retentionCheckMs) : undefined;
  sweeper?.unref();

  function assertOpen(): void {
    if (closing) throw new HeraldError(CoreErrors.closed, 'log: closed');
  }

  /** Appends `list` at the heads of its partitions; see {@link LogInternals.append}. */
  function append(list: readonly OutgoingRecord[], onCommit?: (placed: Placed) => void): Promise<Placed> {
    assertOpen();
    if (list.length > 0) return queue.enqueue(records.append(list), onCommit ? { onCommit } : undefined);
    const none: Placed = { pids: [], offsets: [], timestamps: [] };
    onCommit?.(none);
    return Promise.resolve(none);
  }

  const log: SqliteLog = {
    async publish(list: readonly OutgoingRecord[]) {
      await append(list);
    },
    async subscribe(subscribeOptions: SubscribeOptions, sink: DeliverySink) {
      assertOpen();
      const member = await joinGroup(memberDeps, subscribeOptions, sink);
      if (closing) {
        await member.close();
        throw new HeraldError(CoreErrors.closed, 'log: closed while subscribing');
      }
      countReaders(subscribeOptions.topics, 1);
      let counted = true;
      const subscription: Subscription = {
        commit: (offsets) => member.commit(offsets),
        close: () =>
          member.close().finally(() => {
            subscriptions.delete(subscription);
            members.delete(member);
            if (counted) countReaders(subscribeOptions.topics, -1);
            counted = false;
          }),
      };
      subscriptions.add(subscription);
      members.add(member);
      return subscription;
    },
    async ensureTopics(specs: readonly TopicSpec[]) {
      assertOpen();
      await queue.enqueue((ctx) => specs.forEach((spec) => topics.ensure(spec, ctx.now)));
    },
    async resetOffsets(reset: OffsetResetOptions) {
      assertOpen();
      await queue.enqueue(groups.reset({ ...reset, sessionTimeoutMs: o.sessionTimeoutMs }));
    },
    sweepRetention() {
      assertOpen();
      return sweep();
    },
    poke: () => notifier.poke(),
    async describeTopics(names?: readonly string[]) {
      assertOpen();
      return inspector.describeTopics(names);
    },
    async listGroups() {
      assertOpen();
      return inspector.listGroups();
    },
    async describeGroup(group: string, options?: DescribeGroupOptions) {
      assertOpen();
      return inspector.describeGroup(group, options);
    },
    async read(range) {
      assertOpen();
      checkRecordRange(range, 'log');
      // another process may have created the topic since this handle last looked
      topics.refresh();
      const pid = topics.get(range.topic)?.pids[range.partition];
      return pid === undefined ? [] : records.read(pid, range.from, range.limit).deliveries;
    },
    crash() {
      closing ??= (async () => {
        clearInterval(sweeper);
        handOver.clear();
        for (const member of members) member.crash();
        queue.abort();
        notifier.close();
        db.close();
        await wal.close();
        await checkpointer?.close();
      })();
      return closing;
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await Promise.all([...subscriptions].map((s) => s.close().catch((error: unknown) => o.logger.warn('log: closing a subscription failed', { error }))));
        await sweeping?.catch(() => 0);
        await queue.close();
        notifier.close();
        handOver.clear();
        db.close();
        await wal.close();
        await checkpointer?.close();
      })();
      return closing;
    },
  };
  LOG_INTERNALS.set(log, { append, adopt: (appended) => handOver.adopt(appended) });
  return log;
}

/** What the embedded engine's relay thread and the app's log do together, beyond the public API. */
export interface LogInternals {
  /**
   * `publish`, resolving with where each record went (the relay thread's log); `onCommit` hears it
   * at COMMIT, before the fsync (see `EnqueueOptions.onCommit`).
   */
  append(list: readonly OutgoingRecord[], onCommit?: (placed: Placed) => void): Promise<Placed>;
  /**
   * Hears of records another connection of this process appended and committed (the app's log),
   * for its consumers, as a reader polling the file would see them, maybe before their fsync: a
   * record lost in a power cut before it is durable was never marked published in the outbox, so
   * it is published again, and the consumers' inboxes absorb it.
   */
  adopt(appended: Appended): void;
}

const LOG_INTERNALS = new WeakMap<SqliteLog, LogInternals>();

/** The internals of a log made by {@link sqliteLog}. */
export function logInternalsOf(log: SqliteLog): LogInternals {
  const internals = LOG_INTERNALS.get(log);
  if (!internals) throw new HeraldError(CoreErrors.invalidOptions, 'relay thread: the log was not made by sqliteLog');
  return internals;
}
