import { CoreErrors, HeraldError, hasWindowStore, type App, type Envelope, type HandlerPolicy, type WindowStore } from '@herald/core';
import { StreamErrors } from '../errors.js';
import { createActivity, type Activity } from './activity.js';
import { claimNames } from './claims.js';
import { coPartitionedSets, coPartitioningCheck } from './copartition.js';
import { createCommitFacts, type AggregationTally } from './facts.js';
import { idleSets, noteRecord, notedTopics } from './idleClock.js';
import type { TopologyPlan } from './plan.js';
import { createPunctuator } from './punctuator.js';
import { maxAttemptsOf, resultFailureRecorder, streamHandler } from './resultFailures.js';
import { resultLetterDefinition } from './resultRedrive.js';
import { runBatch } from './run.js';

/**
 * Registers a compiled topology on an app: one batch handler per group (the pipeline's inbox,
 * retries and dead letters apply; a failed batch goes one event at a time; a batch of a topic that
 * an aggregation reads with others notes the wall time of its records for every member's
 * punctuator), the partitions each member holds followed through the app's `assigned` / `revoked`
 * facts (per idle set: the topics some aggregations read), the punctuator, and, when an
 * aggregation reads several topics, the check at start that they are co-partitioned. Each batch's
 * stream facts (late records, results, stream time per aggregation) are emitted once it committed
 * (see `createCommitFacts`). Refuses a topology whose window state, groups or repartition topics
 * are another installed one's.
 */
export function installTopology<Tx>(app: App<Tx>, plan: TopologyPlan): void {
  if (plan.groups.length === 0) throw new HeraldError(CoreErrors.invalidOptions, `topology ${plan.name} reads nothing: add a from()`);
  const aggregates = plan.groups.some((g) => g.aggregations.length > 0);
  if (aggregates && !hasWindowStore(app.stores)) {
    throw new HeraldError(StreamErrors.windowStoreMissing, `topology ${plan.name} aggregates, but the app's stores keep no window state (hasWindowStore is false)`);
  }
  claimNames(app, plan);
  const windows = aggregates ? ((app.stores as unknown as { windows: WindowStore<unknown> }).windows) : undefined;
  const activity = createActivity(app.clock, plan.idleTimeoutMs);
  const setsByGroup = new Map(plan.groups.map((g) => [g.group, idleSets(g)]));
  const facts = createCommitFacts((fact) => app.instrumentation.emit(fact));
  // a batch's last attempt is its event's last alone: a failure of the whole batch goes one event at a time
  const maxAttempts = maxAttemptsOf({ topology: plan.handler?.retry, app: app.handlerDefaults.retry });
  const resultFailures = resultFailureRecorder({ store: app.stores.deadLetters, clock: app.clock, instrumentation: app.instrumentation, maxAttempts });
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled') {
      const sets = setsByGroup.get(fact.group);
      if (sets === undefined) return; // another part of the app
      // a delivery is over (applied, dead-lettered, parked): if an attempt at it failed, it no longer holds its partition
      for (const set of sets) if (set.topics.includes(fact.topic)) activity.settled(set.scope, fact.partition, [fact.eventId]);
      facts.handled(fact);
      return;
    }
    if (fact.kind !== 'assigned' && fact.kind !== 'revoked') return;
    if (fact.kind === 'revoked') facts.revoked(fact.group, fact.partitions);
    for (const set of setsByGroup.get(fact.group) ?? []) {
      const partitions = fact.partitions.filter((tp) => set.topics.includes(tp.topic));
      if (fact.kind === 'assigned') activity.assigned(set.scope, partitions);
      else activity.revoked(set.scope, partitions);
    }
  });
  for (const group of plan.groups) {
    const sets = setsByGroup.get(group.group)!;
    const noted = notedTopics(group, plan.idleTimeoutMs);
    // an aggregating group also reads its window-result letters back, when they are redriven
    const definitions = group.aggregations.length > 0 ? [...group.definitions, resultLetterDefinition(group.group, group.definitions[0]!.topic)] : group.definitions;
    app.onBatch(definitions, { ...(plan.handler as HandlerPolicy<Tx> | undefined), group: group.group, name: streamHandler(group.group) }, async (events, ctx) => {
      // read once: on the one-by-one path the signal is made when first asked for
      const signal = ctx.signal;
      // a batch holds one partition's deliveries; split defensively all the same
      for (const { topic, partition, events: part } of byPartition(events, ctx.deliveries)) {
        const scopes = sets.filter((set) => set.topics.includes(topic)).map((set) => set.scope);
        await whileBusy(activity, { scopes, partition, eventIds: part.map((e) => e.id), signal }, async () => {
          if (noted.has(topic)) await noteRecord({ windows: windows!, tx: ctx.tx, group: group.group, topic, partition }, app.clock.now());
          const tally: AggregationTally[] = [];
          const failures = resultFailures({ group: group.group, topic, partition, attempts: ctx.attempt, lastAttempt: ctx.alone && ctx.attempt >= maxAttempts, signal, logger: ctx.logger });
          const run = { tx: ctx.tx, publish: ctx.publish, logger: ctx.logger, signal, group: group.group, partition, clock: app.clock, windows, tally, resultFailures: failures };
          await runBatch(group, run, part);
          // an attempt past its deadline rolls back, even if its code (a hung forEach) finished since
          if (!signal.aborted) facts.hold({ group: group.group, topic, partition, eventId: part.at(-1)!.id }, tally);
        });
      }
    });
  }
  if (coPartitionedSets(plan).length > 0) app.use(coPartitioningCheck(app, plan));
  // idleTimeoutMs false (Infinity here): only records move stream time
  if (aggregates && Number.isFinite(plan.idleTimeoutMs)) app.use(createPunctuator(app, plan, { activity, windows: windows!, resultFailures, maxAttempts }));
}

/**
 * Runs `work` with the partition busy until the attempt is over: until `work` settles or `signal`
 * aborts, whichever comes first. At the attempt's deadline the pipeline rolls its transaction back
 * without waiting for user code that ignores its signal (a hung `forEach` runs on); were the
 * partition busy until that code returned, it would never be idle again, and its windows would
 * close only when records arrive. An attempt that fails or passes its deadline leaves its events
 * pending until they are settled (an attempt of the partition succeeds, or the pipeline reports
 * them handled: dead-lettered, parked): a retry's backoff can outlast the idle timeout, and a
 * punctuation then would close the windows those events belong to and make them late.
 */
async function whileBusy(
  activity: Activity,
  batch: { scopes: readonly string[]; partition: number; eventIds: readonly string[]; signal: AbortSignal },
  work: () => Promise<void>,
): Promise<void> {
  const { scopes, partition, eventIds, signal } = batch;
  // an attempt already over does no more work (and its abort would never be heard)
  signal.throwIfAborted();
  for (const scope of scopes) activity.begin(scope, partition);
  let busy = true;
  const end = (applied: boolean) => {
    if (!busy) return;
    busy = false;
    for (const scope of scopes) {
      if (applied) activity.settled(scope, partition);
      else activity.failed(scope, partition, eventIds);
      activity.end(scope, partition);
    }
  };
  const onAbort = () => end(false);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await work();
    end(true);
  } finally {
    signal.removeEventListener('abort', onAbort);
    end(false);
  }
}

function byPartition(events: readonly Envelope[], deliveries: readonly { topic: string; partition: number }[]): { topic: string; partition: number; events: Envelope[] }[] {
  const parts = new Map<string, { topic: string; partition: number; events: Envelope[] }>();
  events.forEach((event, i) => {
    const { topic, partition } = deliveries[i]!;
    const id = `${topic}\u0000${partition}`;
    const part = parts.get(id);
    if (part) part.events.push(event);
    else parts.set(id, { topic, partition, events: [event] });
  });
  return [...parts.values()];
}
