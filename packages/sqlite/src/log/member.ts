import { hostname } from 'node:os';
import {
  CoreErrors,
  HeraldError,
  uuidv7,
  type Clock,
  type DeliverySink,
  type Logger,
  type OutOfRangeDecision,
  type SubscribeOptions,
  type Subscription,
  type TopicPartition,
} from '@herald/core';
import type { GroupAccess, HeartbeatResult, Lease } from './groups.js';
import type { Notifier } from './notifier.js';
import type { RecordAccess } from './records.js';
import type { TopicRegistry } from './topics.js';
import type { WriteQueue } from './writeQueue.js';

export interface MemberDeps {
  readonly queue: WriteQueue;
  readonly groups: GroupAccess;
  readonly records: RecordAccess;
  readonly topics: TopicRegistry;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sessionTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly maxBatch: number;
}

/** One owned partition: its lease, where fetching is, and how to stop the loop feeding the sink. */
interface Run extends Lease {
  readonly tp: TopicPartition;
  position: number;
  readonly stop: AbortController;
  /** Being revoked: no longer fetched, lease kept until the sink is done with it. */
  leaving: boolean;
}

const DELIVER_RETRY_MS = 100;
/**
 * Membership, leases and offset commits settle at COMMIT, before the fsync: losing one in a power
 * cut costs a rebalance or a redelivery (at-least-once), never a record.
 */
const UNSYNCED = { sync: false } as const;

/**
 * A group member on the shared log file. It heartbeats its membership row; every heartbeat
 * recomputes the group's assignment over live members and takes the free leases assigned to it.
 * Partitions assigned elsewhere are revoked (the sink is awaited) and only then released; a lease
 * taken over by another member (this one missed its session) is revoked without release and its
 * commits are refused from then on, because a commit must match the lease's epoch. A member whose
 * last successful heartbeat is older than the session stops fetching until it heartbeats again.
 */
/** A member as the log holds it: a Subscription that can also die abruptly. */
export interface Member extends Subscription {
  readonly memberId: string;
  /** Stops at once: no `revoked`, no release, no leave; commits are ignored from now on. */
  crash(): void;
}

export async function joinGroup(deps: MemberDeps, options: SubscribeOptions, sink: DeliverySink): Promise<Member> {
  const { queue, groups, records, topics, notifier, clock, logger } = deps;
  const group = options.group;
  const subscribed = [...new Set(options.topics)].sort();
  if (typeof group !== 'string' || group.length === 0) throw new HeraldError(CoreErrors.invalidOptions, 'log: subscribe needs a group');
  if (subscribed.length === 0) throw new HeraldError(CoreErrors.invalidOptions, 'log: subscribe needs at least one topic');
  const maxBatch = options.maxBatch ?? deps.maxBatch;
  const start = options.start ?? 'earliest';
  const memberId = `${hostname()}-${process.pid}-${uuidv7()}`;
  const runs = new Map<number, Run>();
  const revocations = new Set<Promise<void>>();
  const stopped = new AbortController();
  let lastHeartbeatAt = clock.now();
  let closing: Promise<void> | undefined;
  let crashed = false;
  let told = false;

  async function beat(): Promise<void> {
    const owned = new Map([...runs].map(([pid, run]) => [pid, run.epoch]));
    const result = await queue.enqueue(groups.heartbeat({ group, memberId, topics: subscribed, start, sessionTimeoutMs: deps.sessionTimeoutMs, owned }), UNSYNCED);
    lastHeartbeatAt = clock.now();
    if (!stopped.signal.aborted) apply(result);
  }

  function apply(result: HeartbeatResult): void {
    const active = (pids: readonly number[]) => pids.map((pid) => runs.get(pid)).filter((run): run is Run => run !== undefined && !run.leaving);
    const lost = active(result.lost);
    if (lost.length > 0) {
      logger.warn('log: partition leases were taken over (missed session); revoking', { group, memberId, partitions: lost.map((r) => r.tp) });
      track(revoke(lost, false));
    }
    const surplus = active(result.surplus);
    if (surplus.length > 0) track(revoke(surplus, true));
    // the first assignment is reported even when it is empty: that is when the member is ready
    if (result.gained.length === 0 && told) return;
    told = true;
    const gained: Run[] = result.gained.map((lease) => ({
      ...lease,
      tp: topics.locate(lease.pid)!,
      stop: new AbortController(),
      leaving: false,
    }));
    for (const run of gained) runs.set(run.pid, run);
    try {
      sink.assigned?.(gained.map((run) => run.tp));
    } catch (error) {
      logger.warn('log: sink.assigned threw', { group, error });
    }
    for (const run of gained) void fetchLoop(run);
  }

  function track(work: Promise<void>): void {
    revocations.add(work);
    void work.finally(() => revocations.delete(work));
  }

  /** Stops fetching, lets the sink finish, then (voluntary hand-over) frees the leases. */
  async function revoke(list: readonly Run[], release: boolean): Promise<void> {
    for (const run of list) {
      run.leaving = true;
      run.stop.abort();
    }
    try {
      await sink.revoked(list.map((run) => run.tp));
    } catch (error) {
      logger.warn('log: sink.revoked threw', { group, error });
    }
    // a deliver still pending is not waited for: its loop stops as soon as it settles
    if (release) {
      await queue.enqueue(groups.release(group, memberId, list), UNSYNCED).catch((error: unknown) => logger.warn('log: lease release failed; it lapses with the session', { group, error }));
    }
    for (const run of list) if (runs.get(run.pid) === run) runs.delete(run.pid);
  }

  async function fetchLoop(run: Run): Promise<void> {
    const signal = run.stop.signal;
    // the first delivery waits for the caller to hold its Subscription (sinks commit through it)
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (!signal.aborted) {
      if (clock.now() - lastHeartbeatAt > deps.sessionTimeoutMs) {
        // our session may have lapsed: someone else may own this partition now
        await clock.sleep(deps.heartbeatMs, signal).catch(() => {});
        continue;
      }
      try {
        const batch = records.read(run.pid, run.position, maxBatch);
        if (batch.atHead) {
          await notifier.wait(run.pid, run.position, signal);
          continue;
        }
        const first = batch.deliveries[0];
        if ((first === undefined || first.offset > run.position) && run.position < records.start(run.pid)) {
          // offsets are dense from the partition's start: a jump means retention deleted what the group had not read
          if ((await skipDeleted(run, first?.offset)) === 'stop') return;
          continue;
        }
        const last = batch.deliveries[batch.deliveries.length - 1];
        if (!last) {
          await notifier.wait(run.pid, run.position, signal);
          continue;
        }
        await sink.deliver(batch);
        run.position = last.offset + 1;
      } catch (error) {
        if (signal.aborted) return;
        logger.warn('log: fetching or delivering failed; trying the same position again', { group, partition: run.tp, error });
        await clock.sleep(DELIVER_RETRY_MS, signal).catch(() => {});
      }
    }
  }

  /**
   * The group's position in a partition is below its first retained offset: asks the sink (which
   * reports the gap and applies the group's policy) and moves on to the start, or stops the partition.
   */
  async function skipDeleted(run: Run, firstRead: number | undefined): Promise<OutOfRangeDecision> {
    const start = records.start(run.pid);
    const skipped = { ...run.tp, from: run.position, to: firstRead === undefined ? start : Math.min(firstRead, start) };
    logger.debug('log: records were deleted by retention before the group read them', { group, ...skipped });
    const decision = sink.outOfRange ? await sink.outOfRange(skipped) : 'resume';
    if (decision === 'resume') run.position = skipped.to;
    return decision;
  }

  async function heartbeats(): Promise<void> {
    while (!stopped.signal.aborted) {
      await clock.sleep(deps.heartbeatMs, stopped.signal).catch(() => {});
      if (stopped.signal.aborted) return;
      await beat().catch((error: unknown) => logger.warn('log: heartbeat failed', { group, memberId, error }));
    }
  }

  /**
   * A member whose heartbeats stall past its session (a busy or full file) is dead to the others,
   * who take its partitions over and redeliver from the last commit: it revokes them first, so the
   * sink stops handling what it already has, instead of handling it beside the new owner. Its next
   * heartbeat takes back whatever is still its own.
   */
  async function watchSession(): Promise<void> {
    while (!stopped.signal.aborted) {
      await clock.sleep(deps.heartbeatMs, stopped.signal).catch(() => {});
      if (stopped.signal.aborted || clock.now() - lastHeartbeatAt <= deps.sessionTimeoutMs) continue;
      const held = [...runs.values()].filter((run) => !run.leaving);
      if (held.length === 0) continue;
      logger.warn('log: no heartbeat within the session; revoking its partitions before others take them over', { group, memberId, partitions: held.map((r) => r.tp) });
      track(revoke(held, false));
    }
  }

  await beat();
  const heartbeatLoop = heartbeats();
  const sessionWatch = watchSession();

  return {
    memberId,
    async commit(offsets) {
      if (crashed) return;
      const leased: (Lease & { offset: number })[] = [];
      for (const o of offsets) {
        if (!(Number.isInteger(o.offset) && o.offset >= 0)) throw new HeraldError(CoreErrors.invalidOptions, `log: invalid offset ${o.offset} for ${o.topic}/${o.partition}`);
        const pid = topics.get(o.topic)?.pids[o.partition];
        const run = pid === undefined ? undefined : runs.get(pid);
        if (run) leased.push({ pid: run.pid, epoch: run.epoch, offset: o.offset });
      }
      if (leased.length === 0) return;
      const refused = await queue.enqueue(groups.commit(group, memberId, leased), UNSYNCED);
      if (refused > 0) logger.debug('log: commits for partitions no longer leased were ignored', { group, memberId, refused });
    },
    crash() {
      crashed = true;
      closing ??= Promise.resolve();
      stopped.abort();
      for (const run of runs.values()) run.stop.abort();
    },
    close() {
      closing ??= (async () => {
        stopped.abort();
        await heartbeatLoop;
        await sessionWatch;
        await Promise.all([...revocations]);
        const remaining = [...runs.values()].filter((run) => !run.leaving);
        if (remaining.length > 0) await revoke(remaining, false);
        await queue.enqueue(groups.leave(group, memberId), UNSYNCED).catch((error: unknown) => logger.warn('log: leaving the group failed; the session will lapse', { group, error }));
      })();
      return closing;
    },
  };
}
