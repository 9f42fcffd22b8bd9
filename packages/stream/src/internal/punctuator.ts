import { APP_DEFAULTS, CoreErrors, HeraldError, untilAborted, type App, type Component, type WindowStore } from '@herald/core';
import type { Activity } from './activity.js';
import { punctuationFailed, streamFacts, type AggregationTally } from './facts.js';
import { idleSets, lastRecords, punctuateIdle, recentRecord, type IdleSet, type IdleTimes } from './idleClock.js';
import type { GroupPlan, TopologyPlan } from './plan.js';
import type { ResultFailures, ResultRun } from './resultFailures.js';

/** What the punctuator works with besides the app and the plan. */
export interface PunctuatorDeps {
  readonly activity: Activity;
  readonly windows: WindowStore<unknown>;
  /** Binds the dead-lettering of window results that cannot be emitted to one punctuation. */
  readonly resultFailures: (run: ResultRun) => ResultFailures;
  /** Punctuations of a partition in a row that a result's retriable failure fails before it is dead-lettered. */
  readonly maxAttempts: number;
}

/**
 * The component that closes idle partitions' windows: every `punctuateIntervalMs` (on the app's
 * clock) it looks, per idle set (aggregations of a group reading the same topics, see
 * `idleClock.ts`), for partitions this member holds that received nothing here for
 * `idleTimeoutMs`, and, when no member received anything for that partition number of the set's
 * topics either (they may be held by several), moves the set's stream time on with the wall
 * clock, each partition in one app transaction, which decides how far once it holds the
 * partition's locks (see `punctuateIdle`): the windows it closes are deleted and their results
 * published together. Each punctuation runs under the topology's handler `timeoutMs` (else the app's), as
 * its batches do. A failed punctuation is logged, emitted as a `punctuation-failed` fact (with
 * its error's code: an operator alerts on it, since a partition whose punctuation fails at every
 * tick never closes its windows) and tried again at the next tick; the other partitions and sets
 * go on. A window's result that cannot be emitted fails the punctuation when its error is
 * retriable, until `maxAttempts` punctuations of the partition in a row failed; then, or at once
 * for a non-retriable error, it is dead-lettered (see `resultFailures.ts`) and the punctuation
 * goes on (one whose downstream hangs past the deadline of `maxAttempts` punctuations in a row is
 * dead-lettered, and passed over by the next), so one window's result does not keep every other window of its partition open. One
 * that committed emits its stream facts (late records, results, stream time). Closing
 * lets the punctuation in flight finish until close's deadline, then abandons it (its transaction
 * rolls back; not counted as a failure).
 */
export function createPunctuator<Tx>(app: App<Tx>, plan: TopologyPlan, deps: PunctuatorDeps): Component {
  const { activity, windows } = deps;
  /** Failed punctuations in a row, per idle set and partition: the attempt number of the next. */
  const failures = new Map<string, number>();
  const stop = new AbortController();
  const logger = app.logger.child({ component: `stream:${plan.name}` });
  // as its batches: the topology's own timeout, else the app's handler default, else Herald's
  const timeoutMs = plan.handler?.timeoutMs ?? app.handlerDefaults.timeoutMs ?? APP_DEFAULTS.handler.timeoutMs;
  /** The punctuation in flight: aborted at its deadline, or at close's. */
  let current: AbortController | undefined;
  let loop: Promise<void> | undefined;
  const sets = plan.groups.flatMap((group) => idleSets(group).map((set) => ({ group, set })));

  async function tick(): Promise<void> {
    const now = app.clock.now();
    for (const { group, set } of sets) {
      const idle = activity.idle(set.scope, now);
      if (idle.length === 0) continue;
      let last: Map<number, number> | undefined;
      try {
        last = set.shared ? await lastRecords(windows, set) : undefined;
      } catch (error) {
        failed({ group, set }, undefined, error);
        continue;
      }
      for (const partition of idle) {
        if (stop.signal.aborted) return;
        const times: IdleTimes = { now, idleTimeoutMs: plan.idleTimeoutMs, since: activity.since(set.scope, partition), lastRecord: last?.get(partition) };
        if (recentRecord(times)) continue;
        await punctuatePartition({ group, set, partition }, times).catch((error: unknown) => failed({ group, set }, partition, error));
      }
    }
  }

  /** Logs a failure and reports it as a fact, unless closing abandoned the punctuation. */
  function failed(at: { group: GroupPlan; set: IdleSet }, partition: number | undefined, error: unknown): void {
    logger.warn('stream punctuation failed; trying again at the next tick', { error, group: at.group.group, partition, topics: at.set.topics });
    if (!stop.signal.aborted) app.instrumentation.emit(punctuationFailed(at.group.group, partition, error));
  }

  /**
   * One partition's punctuation. At its deadline the transaction rolls back without waiting for a
   * `forEach` or late handler that ignores its signal (it runs on; its later writes are refused):
   * held open, the transaction would keep the partition's window lock, so its next batch would
   * time out and be dead-lettered, and this loop (and its close) would wait for good.
   */
  async function punctuatePartition(at: { group: GroupPlan; set: IdleSet; partition: number }, times: IdleTimes): Promise<void> {
    const { group, set, partition } = at;
    const deadline = new AbortController();
    current = deadline;
    const cancelTimer = app.clock.setTimer(timeoutMs, () =>
      deadline.abort(new HeraldError(CoreErrors.timeout, `stream ${plan.name}: punctuation of ${group.group} partition ${partition} did not finish within ${timeoutMs} ms`)),
    );
    /** What the transaction's last run did (an engine may run a transaction's work again). */
    let tally: AggregationTally[] = [];
    const attempt = `${set.scope}\u0000${partition}`;
    const attempts = (failures.get(attempt) ?? 0) + 1;
    const topic = set.topics.join('+');
    const resultFailures = deps.resultFailures({ group: group.group, topic: set.topics[0]!, partition, attempts, lastAttempt: attempts >= deps.maxAttempts, signal: deadline.signal, logger });
    try {
      await app.transaction(async (tx, publish) => {
        // its deadline passed while it waited for the transaction: it does nothing
        deadline.signal.throwIfAborted();
        tally = [];
        const ctx = { tx, publish, logger, signal: deadline.signal, group: group.group, partition, clock: app.clock, windows, tally, resultFailures };
        await untilAborted(punctuateIdle(set, group, ctx, times, activity), deadline.signal);
        // user code that saw the abort and returned early did not finish: nothing of it commits
        deadline.signal.throwIfAborted();
      });
      failures.delete(attempt);
      for (const fact of streamFacts(tally, { group: group.group, topic, partition })) app.instrumentation.emit(fact);
    } catch (error) {
      // closing abandoned it: not a failure of its own
      if (!stop.signal.aborted) failures.set(attempt, attempts);
      throw error;
    } finally {
      cancelTimer();
      current = undefined;
    }
  }

  async function run(): Promise<void> {
    while (!stop.signal.aborted) {
      await app.clock.sleep(plan.punctuateIntervalMs, stop.signal).catch(() => {});
      if (stop.signal.aborted) return;
      await tick().catch((error: unknown) => logger.warn('stream punctuation failed; trying again at the next tick', { error }));
    }
  }

  return {
    name: `stream:${plan.name}`,
    async start() {
      loop = run();
    },
    async close(options) {
      stop.abort();
      // without a deadline given, the punctuation in flight still ends by its own
      const deadlineMs = options?.deadlineMs;
      const cancelTimer =
        deadlineMs === undefined
          ? undefined
          : app.clock.setTimer(deadlineMs, () => current?.abort(new HeraldError(CoreErrors.closed, `stream ${plan.name} closing: its punctuation in flight is abandoned`)));
      try {
        await loop;
      } finally {
        cancelTimer?.();
      }
    },
  };
}

