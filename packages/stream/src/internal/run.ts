import { CoreErrors, HeraldError, isHeraldError, isRetriable, unstorableTextReason, type Clock, type Envelope, type Logger, type Publish, type WindowStore } from '@herald/core';
import { StreamErrors } from '../errors.js';
import type { LateRecord, StreamContext, StreamRecord, WindowResult } from '../types.js';
import { applyRecords, finalResults, resultTime, type Applied, type Late } from './aggregate.js';
import { checkWindowTime } from './eventTime.js';
import type { AggregationTally } from './facts.js';
import type { AggregateNode, Node } from './graph.js';
import type { GroupPlan } from './plan.js';
import { assertJson } from './repartition.js';
import type { ResultFailures } from './resultFailures.js';
import { redrivenResult, redrivenValue } from './resultRedrive.js';

/** What a run of a group's part of the topology works with: one transaction, one partition. */
export interface RunContext {
  readonly tx: unknown;
  readonly publish: Publish;
  readonly logger: Logger;
  /** Aborted when the batch's (or the punctuation's) attempt is over: what `StreamContext.signal` is. */
  readonly signal: AbortSignal;
  readonly group: string;
  readonly partition: number;
  /** The app's clock: sources with `maxFutureSkewMs` judge event times against it. */
  readonly clock: Clock;
  /** The stores' window state (required when the group aggregates). */
  readonly windows: WindowStore<unknown> | undefined;
  /** Told of every late record (the test driver listens). */
  readonly onLate?: (late: LateRecord<unknown>) => void;
  /** Gets what each aggregation did (late records, results, stream time): the facts emitted once the run commits. */
  readonly tally?: AggregationTally[];
  /**
   * Where a window's result whose emission failed for good goes (a non-retriable error, or a
   * retriable one on the last attempt): dead-lettered, and the run goes on. Absent: the failure
   * fails the run.
   */
  readonly resultFailures?: ResultFailures;
}

/** A record on its way through the graph, with the event it came from (for correlation and traces). */
interface Flowing extends StreamRecord<unknown> {
  readonly cause?: Envelope;
}

/**
 * Runs a batch of one partition's events (in offset order) through the group's part of the
 * topology: each event, in order, through its sources and stateless steps (publishing what goes
 * to repartition topics and sinks, running `forEach` handlers), buffering what reaches an
 * aggregation; then each aggregation, upstream first, over its buffered records in one update of
 * the window store, emitting its late records and results downstream. All in the caller's
 * transaction: with the inbox marks, the window state and everything published commit together.
 * A redriven window-result letter, in its place among the events, emits its result again through
 * its aggregation's downstream (an update, its window's current value while the window is held:
 * see `redrivenValue`); a failure of that fails the batch (the pipeline letters it again).
 */
export async function runBatch(plan: GroupPlan, ctx: RunContext, events: readonly Envelope[]): Promise<void> {
  const run = createRun(plan, ctx);
  const now = ctx.clock.now();
  for (const event of events) {
    const redriven = redrivenResult(plan, event);
    if (redriven) await run.push(redriven.node.children, { ...resultRecord(redriven.node, await redrivenValue(ctx, redriven)), cause: event });
    for (const source of plan.sourcesByType.get(event.type) ?? []) {
      const record = source.read(event, now);
      await run.push(source.children, { key: record.key, value: record.value, timestamp: record.timestamp, cause: event });
    }
  }
  await run.aggregate(undefined);
}

/** Which aggregations a punctuation moves, and where to. */
export interface Punctuation {
  /** The aggregations whose stream time it moves; the others are touched only by the results it emits into them. */
  readonly aggregations: readonly AggregateNode[];
  /** The new stream time, given the stored one (undefined leaves it). */
  readonly advanceTo: (node: AggregateNode, streamTime: number | undefined) => number | undefined;
}

/**
 * Punctuates an idle partition: moves the stream time of the aggregations given, closing the
 * windows that reached their close and emitting their results (which downstream aggregations of
 * the group take as records), in the caller's transaction.
 */
export async function punctuate(plan: GroupPlan, ctx: RunContext, punctuation: Punctuation): Promise<void> {
  await createRun(plan, ctx).aggregate(punctuation);
}

function createRun(plan: GroupPlan, ctx: RunContext) {
  const buffers = new Map<AggregateNode, Flowing[]>();
  const streamContext: StreamContext<unknown> = { tx: ctx.tx, publish: ctx.publish, logger: ctx.logger, signal: ctx.signal, group: ctx.group, partition: ctx.partition };

  async function push(nodes: readonly Node[], record: Flowing): Promise<void> {
    for (const node of nodes) {
      switch (node.kind) {
        case 'filter':
          if (node.predicate(record)) await push(node.children, record);
          break;
        case 'map':
          await push(node.children, { key: record.key, value: node.mapper(record), timestamp: record.timestamp, cause: record.cause });
          break;
        case 'merge':
          await push(node.children, record);
          break;
        case 'repartition':
          await repartition(node, record);
          break;
        case 'sink':
          await ctx.publish(node.definition, node.map ? node.map(record) : record.value, publishOptions(record));
          break;
        case 'forEach':
          await node.handler(record, streamContext);
          break;
        case 'aggregate': {
          // refused here, with its event, rather than as a store error halfway through the update
          checkWindowTime(node.windows, record.timestamp, record.cause);
          checkStorableKey(record.key, `aggregation ${node.name}`);
          const buffer = buffers.get(node);
          if (buffer) buffer.push(record);
          else buffers.set(node, [record]);
          break;
        }
        case 'source':
          break; // sources are roots
      }
    }
  }

  async function repartition(node: Extract<Node, { kind: 'repartition' }>, record: Flowing): Promise<void> {
    const key = node.keyOf(record);
    if (typeof key !== 'string' || key.length === 0) {
      throw new HeraldError(StreamErrors.invalidKey, `groupBy ${node.name}: the key must be a non-empty string, got ${JSON.stringify(key) ?? String(key)}`);
    }
    checkStorableKey(key, `groupBy ${node.name}`);
    // the record comes back out of the topic as JSON: refuse what would come back changed
    assertJson(record.value, `groupBy ${node.name}: the re-keyed value of key ${JSON.stringify(key)}`);
    await ctx.publish(node.definition, { key, timestamp: record.timestamp, value: record.value }, publishOptions(record));
  }

  /** The result being emitted: the one its attempt hung on, should its deadline pass now. */
  let emitting: { node: AggregateNode; result: WindowResult<unknown>; timestamp: number } | undefined;
  const onAbort = () => {
    const reason: unknown = ctx.signal.reason;
    if (emitting && isHeraldError(reason) && reason.code === CoreErrors.timeout.code) ctx.resultFailures?.timedOut({ ...emitting, error: reason });
  };

  async function aggregate(punctuation: Punctuation | undefined): Promise<void> {
    // one listener per run (not per result): removed when the run ends, or by its one abort
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await aggregateAll(punctuation);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  async function aggregateAll(punctuation: Punctuation | undefined): Promise<void> {
    for (const node of plan.aggregations) {
      const records = buffers.get(node) ?? [];
      buffers.delete(node);
      const moved = punctuation?.aggregations.includes(node) ?? false;
      if (records.length === 0 && !moved) continue;
      let applied: Applied | undefined;
      const closed = await ctx.windows!.update(ctx.tx, { store: node.store, partition: ctx.partition }, [...new Set(records.map((r) => r.key))], (state) => {
        applied = applyRecords(node, records, state, moved ? punctuation!.advanceTo(node, state.streamTime) : undefined);
        return applied.change;
      });
      for (const late of applied?.late ?? []) await sendLate(node, late);
      const results = [...(applied?.results ?? []), ...finalResults(node, closed)];
      let emitted = 0;
      for (const result of results) if (await emit(node, result)) emitted++;
      // counted per aggregation and run, not per record: the facts cost nothing per record; a
      // result dead-lettered is not emitted (its letter is counted as the core counts letters)
      if (applied?.change) ctx.tally?.push({ node, late: applied.late.length, results: emitted, streamTime: applied.change.streamTime });
    }
  }

  /**
   * Emits one result downstream. Should that fail for good, the result is dead-lettered and the
   * others go on, so one window cannot block its partition: what it gave downstream aggregations
   * is taken back; what its downstream had already written in the transaction (an earlier sink's
   * event, a `forEach`'s writes before it threw) stays, as the transaction has no savepoint. One
   * dead-lettered for hanging past its attempts' deadlines is passed over once its letter is stored.
   */
  async function emit(node: AggregateNode, result: WindowResult<unknown>): Promise<boolean> {
    const failures = ctx.resultFailures;
    const hung = failures?.hung(node, result);
    if (hung) {
      await hung;
      return false;
    }
    const record = resultRecord(node, result);
    const buffered = new Map([...buffers].map(([n, b]) => [n, b.length]));
    try {
      emitting = { node, result, timestamp: record.timestamp };
      await push(node.children, record);
      failures?.emitted(node, result);
      return true;
    } catch (error) {
      if (failures === undefined || ctx.signal.aborted || (isRetriable(error) && !failures.lastAttempt)) throw error;
      for (const [n, b] of buffers) b.length = buffered.get(n) ?? 0;
      await failures.record({ node, result, timestamp: record.timestamp, error });
      return false;
    } finally {
      emitting = undefined;
    }
  }

  async function sendLate(node: AggregateNode, late: Late): Promise<void> {
    const record = late.record as Flowing;
    const lateRecord: LateRecord<unknown> = {
      aggregation: node.name,
      key: record.key,
      value: record.value,
      timestamp: record.timestamp,
      streamTime: late.streamTime,
      partition: ctx.partition,
      windows: late.windows.map((w) => ({ start: w.start, end: w.end })),
    };
    ctx.onLate?.(lateRecord);
    if ('handler' in node.late) await node.late.handler(lateRecord, streamContext);
    else await ctx.publish(node.late.to, node.late.map ? node.late.map(lateRecord) : lateRecord, publishOptions(record));
  }

  return { push, aggregate };
}

/**
 * Refuses a key the window stores cannot keep exactly (U+0000, a lone surrogate: the core's
 * `unstorableTextReason`). A window is found again by its exact key, and a key read back changed
 * (a lone surrogate as U+FFFD, merging keys) would lose its counts silently; PostgreSQL refuses
 * U+0000 outright. Checked before the record joins an aggregation, so the record alone fails.
 */
function checkStorableKey(key: string, where: string): void {
  const reason = unstorableTextReason(key);
  if (reason !== undefined) throw new HeraldError(StreamErrors.invalidKey, `${where}: key ${JSON.stringify(key)} ${reason}`, { details: { key } });
}

function resultRecord(node: AggregateNode, result: WindowResult<unknown>): Flowing {
  return { key: result.key, value: result, timestamp: resultTime(node, result) };
}

function publishOptions(record: Flowing): { occurredAt: Date; cause?: Envelope } {
  return record.cause ? { occurredAt: new Date(record.timestamp), cause: record.cause } : { occurredAt: new Date(record.timestamp) };
}
