import { CoreErrors, HeraldError, hasWindowStore, type App, type Envelope, type HandlerPolicy, type WindowStore } from '@herald/core';
import { StreamErrors } from '../errors.js';
import { createActivity, type Activity } from './activity.js';
import { coPartitionedSets, coPartitioningCheck } from './copartition.js';
import { noteRecord, notesRecords } from './idleClock.js';
import type { TopologyPlan } from './plan.js';
import { createPunctuator } from './punctuator.js';
import { runBatch } from './run.js';

/**
 * Registers a compiled topology on an app: one batch handler per group (the pipeline's inbox,
 * retries and dead letters apply; a failed batch goes one event at a time; each batch notes the
 * wall time of its records for every member's punctuator), the partitions each member holds
 * followed through the app's `assigned` / `revoked` facts, the punctuator, and, when an
 * aggregation reads several topics, the check at start that they are co-partitioned.
 */
export function installTopology<Tx>(app: App<Tx>, plan: TopologyPlan): void {
  if (plan.groups.length === 0) throw new HeraldError(CoreErrors.invalidOptions, `topology ${plan.name} reads nothing: add a from()`);
  const aggregates = plan.groups.some((g) => g.aggregations.length > 0);
  if (aggregates && !hasWindowStore(app.stores)) {
    throw new HeraldError(StreamErrors.windowStoreMissing, `topology ${plan.name} aggregates, but the app's stores keep no window state (hasWindowStore is false)`);
  }
  const windows = aggregates ? ((app.stores as unknown as { windows: WindowStore<unknown> }).windows) : undefined;
  const activity = createActivity(app.clock, plan.idleTimeoutMs);
  const names = new Set(plan.groups.map((g) => g.group));
  app.instrumentation.on((fact) => {
    if (fact.kind === 'assigned' && names.has(fact.group)) activity.assigned(fact.group, fact.partitions);
    if (fact.kind === 'revoked' && names.has(fact.group)) activity.revoked(fact.group, fact.partitions);
  });
  for (const group of plan.groups) {
    app.onBatch(group.definitions, { ...(plan.handler as HandlerPolicy<Tx> | undefined), group: group.group, name: `${group.group}:stream` }, async (events, ctx) => {
      // read once: on the one-by-one path the signal is made when first asked for
      const signal = ctx.signal;
      // a batch holds one partition's deliveries; split defensively all the same
      for (const [partition, part] of byPartition(events, ctx.deliveries)) {
        await whileBusy(activity, { group: group.group, partition, signal }, async () => {
          if (notesRecords(group, plan.idleTimeoutMs)) await noteRecord({ windows: windows!, tx: ctx.tx, group: group.group, partition }, app.clock.now());
          await runBatch(group, { tx: ctx.tx, publish: ctx.publish, logger: ctx.logger, signal, group: group.group, partition, clock: app.clock, windows }, part);
        });
      }
    });
  }
  if (coPartitionedSets(plan).length > 0) app.use(coPartitioningCheck(app, plan));
  // idleTimeoutMs false (Infinity here): only records move stream time
  if (aggregates && Number.isFinite(plan.idleTimeoutMs)) app.use(createPunctuator(app, plan, activity, windows!));
}

/**
 * Runs `work` with the partition busy until the attempt is over: until `work` settles or `signal`
 * aborts, whichever comes first. At the attempt's deadline the pipeline rolls its transaction back
 * without waiting for user code that ignores its signal (a hung `forEach` runs on); were the
 * partition busy until that code returned, it would never be idle again, and its windows would
 * close only when records arrive.
 */
async function whileBusy(activity: Activity, batch: { group: string; partition: number; signal: AbortSignal }, work: () => Promise<void>): Promise<void> {
  const { group, partition, signal } = batch;
  // an attempt already over does no more work (and its abort would never be heard)
  signal.throwIfAborted();
  activity.begin(group, partition);
  let busy = true;
  const end = () => {
    if (!busy) return;
    busy = false;
    activity.end(group, partition);
  };
  signal.addEventListener('abort', end, { once: true });
  try {
    await work();
  } finally {
    signal.removeEventListener('abort', end);
    end();
  }
}

function byPartition(events: readonly Envelope[], deliveries: readonly { partition: number }[]): Map<number, Envelope[]> {
  const parts = new Map<number, Envelope[]>();
  events.forEach((event, i) => {
    const partition = deliveries[i]!.partition;
    const part = parts.get(partition);
    if (part) part.push(event);
    else parts.set(partition, [event]);
  });
  return parts;
}
