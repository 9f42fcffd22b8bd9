import type { Envelope } from '../model/envelope.js';
import { CoreErrors, toError } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Delivery } from '../ports/broker.js';
import { markAllHandled } from '../ports/stores/inbox.js';
import type { BatchContext } from '../pipeline/handler.js';
import { bindPublisher, lazyPublish, type BoundPublisher } from '../pipeline/publisher.js';
import { abandoned } from '../pipeline/policies/deadLetter.js';
import { untilAborted } from '../timing/untilAborted.js';
import { contextFor, recordPoison, redriveFor, redriveWithdrawn, resolveDelivery, settleRedrives, type DispatchSignals, type GroupDispatchDeps, type HandlerEntry } from './dispatcher.js';

/** What the consumer tells a batch dispatch: its {@link DispatchSignals}, and where to report progress. */
export interface BatchDispatchSignals extends DispatchSignals {
  /**
   * Told of each delivery as soon as nothing is left to do for it: its run's batch committed, or
   * it was handled alone (applied, dead-lettered, parked), recorded as poison, ignored or skipped.
   * The consumer tries a failed dispatch again with the other deliveries only, and commits these
   * when it gives up (closing, partition revoked): nothing is attempted or recorded twice.
   */
  readonly settled: (delivery: Delivery) => void;
}

/**
 * Handles consecutive deliveries of one partition together. Throws only for infrastructure
 * failures, having reported every delivery it settled before (see {@link BatchDispatchSignals}).
 */
export type DispatchBatch = (deliveries: readonly Delivery[], signals: BatchDispatchSignals) => Promise<void>;

interface Run<Tx> {
  readonly entry: HandlerEntry<Tx>;
  readonly events: Envelope[];
  readonly deliveries: Delivery[];
}

/**
 * The dispatch of a group of batch handlers. Deliveries are read in offset order: poison ones go
 * to the dead letter store where they stand, ignored ones are skipped, and each maximal run of
 * events for one batch handler is handled at once — one transaction holding every inbox mark
 * (one statement where the inbox can), the handler's call with the events not yet applied, and
 * its outgoing events. If that fails (or passes its deadline), it rolls back and every event of
 * the run goes alone, in order, through the handler's full pipeline (retries, timeout, dead
 * letter, the user's policies), so a poison event is retried and dead-lettered alone and per-key
 * order holds. A handler with the `park-key` policy takes the one-by-one path for a run touching
 * a parked key. A redrive through the log addressed to this group settles its letter as soon as
 * it is handled (its run's batch, or itself), before the next delivery is resolved. Each delivery
 * is reported `settled` once done, so a dispatch that fails midway is tried again where it stopped.
 */
export function createBatchDispatcher<Tx>(deps: GroupDispatchDeps<Tx>): DispatchBatch {
  return async function dispatchBatch(deliveries, signals) {
    let run: Run<Tx> | undefined;
    for (const delivery of deliveries) {
      if (redriveFor(deps, delivery) && (await redriveWithdrawn(deps, delivery))) {
        signals.settled(delivery);
        continue;
      }
      const resolution = resolveDelivery(deps, delivery);
      if (resolution.kind === 'ignore') {
        if (redriveFor(deps, delivery)) await settleRedrives(deps, [delivery], signals.halt);
        signals.settled(delivery);
        continue;
      }
      if (resolution.kind === 'poison') {
        if (run) await handleRun(deps, run, signals);
        run = undefined;
        await recordPoison(deps, delivery, resolution);
        if (redriveFor(deps, delivery)) await settleRedrives(deps, [delivery], signals.halt);
        signals.settled(delivery);
        continue;
      }
      if (run && run.entry !== resolution.entry) {
        await handleRun(deps, run, signals);
        run = undefined;
      }
      run ??= { entry: resolution.entry, events: [], deliveries: [] };
      run.events.push(resolution.event);
      run.deliveries.push(delivery);
    }
    if (run) await handleRun(deps, run, signals);
  };
}

async function handleRun<Tx>(deps: GroupDispatchDeps<Tx>, run: Run<Tx>, signals: BatchDispatchSignals): Promise<void> {
  const { entry } = run;
  if (entry.batch && !(entry.policy === 'park-key' && (await anyKeyParked(deps, run)))) {
    let handled = false;
    try {
      await wholeBatch(deps, run, signals.stop);
      handled = true;
    } catch (error) {
      if (signals.halt.aborted) throw abandoned(error);
      deps.logger.warn('batch failed; handling its events one by one', { error: toError(error), handler: entry.name, size: run.events.length });
    }
    // outside the try: the batch is committed, and a failed mark must not send it one by one again
    if (handled) {
      await settleRedrives(deps, run.deliveries, signals.halt);
      for (const delivery of run.deliveries) signals.settled(delivery);
      return;
    }
  }
  for (let i = 0; i < run.events.length; i++) {
    // revoked (or closing) midway: the rest stays unreported, uncommitted, for the next owner
    if (signals.halt.aborted) throw abandoned(signals.halt.reason);
    const delivery = run.deliveries[i]!;
    // checked again: an earlier record of this run (another run's record of the same letter) may have settled it
    if (redriveFor(deps, delivery) && i > 0 && (await redriveWithdrawn(deps, delivery))) {
      signals.settled(delivery);
      continue;
    }
    await entry.pipeline(run.events[i]!, contextFor(deps, entry, delivery, { ...signals, redrive: false }));
    // each redrive settled before the next event of the run: a later event of its key sees the key released
    if (redriveFor(deps, delivery)) await settleRedrives(deps, [delivery], signals.halt);
    signals.settled(delivery);
  }
}

/** Whether a key of the run's records is held by a `park-key` letter: each topic and key asked once. */
async function anyKeyParked<Tx>(deps: GroupDispatchDeps<Tx>, run: Run<Tx>): Promise<boolean> {
  // a record's key is any text, U+0000 included (a foreign producer's bytes): kept whole, not joined and split again
  const asked = new Map<string, Set<string>>();
  for (const { topic, key } of run.deliveries) {
    let keys = asked.get(topic);
    if (!keys) asked.set(topic, (keys = new Set()));
    if (keys.has(key)) continue;
    keys.add(key);
    if (await deps.stores.deadLetters.isKeyParked(deps.group, topic, key)) return true;
  }
  return false;
}

/** The fast path: one transaction for the run, then one `handled` fact per event. */
async function wholeBatch<Tx>(deps: GroupDispatchDeps<Tx>, run: Run<Tx>, stop: AbortSignal): Promise<void> {
  const { entry, events, deliveries } = run;
  const batch = entry.batch!;
  const { clock, stores, instrumentation } = deps;
  const started = clock.now();
  const deadline = new AbortController();
  const onStop = () => deadline.abort(stop.reason);
  if (stop.aborted) deadline.abort(stop.reason);
  else stop.addEventListener('abort', onStop, { once: true });
  const cancelTimer = clock.setTimer(batch.timeoutMs, () =>
    deadline.abort(new HeraldError(CoreErrors.timeout, `${entry.name} did not finish a batch of ${events.length} within ${batch.timeoutMs} ms`)),
  );
  let applied: readonly boolean[] = events.map(() => false);
  let publisher: BoundPublisher | undefined;
  try {
    await stores.transaction(async (tx) => {
      const fresh = await markAllHandled(stores.inbox, tx, events.map((e) => ({ group: deps.group, eventId: e.id, handledAt: started })));
      applied = firstDeliveries(events, fresh);
      if (fresh.size === 0) return;
      const todo = applied.every(Boolean) ? events : events.filter((_, i) => applied[i]);
      const todoDeliveries = todo === events ? deliveries : deliveries.filter((_, i) => applied[i]);
      const publish = lazyPublish(() => (publisher ??= bindPublisher({ outbox: stores.outbox, clock, instrumentation, maxEventBytes: deps.maxEventBytes, timers: deps.timers, onScheduled: deps.onScheduled }, tx)).publish);
      const ctx: BatchContext<Tx> = { tx, publish, logger: deps.logger, group: deps.group, handler: entry.name, signal: deadline.signal, deliveries: todoDeliveries, alone: false, attempt: 1 };
      // at the deadline the transaction rolls back at once, also under a handler that ignores
      // its signal (which runs on; its later writes are refused)
      // the marks may have waited past the deadline (a lock another attempt held): no handler then
      deadline.signal.throwIfAborted();
      await untilAborted(batch.handler(todo, ctx), deadline.signal);
      if (deadline.signal.aborted) throw deadline.signal.reason;
    });
  } finally {
    cancelTimer();
    stop.removeEventListener('abort', onStop);
  }
  publisher?.committed();
  if (!instrumentation.active) return;
  const ended = clock.now();
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const delivery = deliveries[i]!;
    instrumentation.emit({
      kind: 'handled',
      group: deps.group,
      handler: entry.name,
      eventId: event.id,
      eventType: event.type,
      topic: delivery.topic,
      partition: delivery.partition,
      offset: delivery.offset,
      outcome: applied[i] ? 'applied' : 'duplicate',
      attempts: 1,
      durationMs: ended - started,
      latencyMs: ended - Date.parse(event.occurredAt),
    });
  }
}

/**
 * Which events of a batch to apply: those the inbox marked now, each id once. A batch can hold
 * one event twice (an append retried with the same id, as `publishDirect` asks for, lands both
 * copies on the log): the first delivery is applied, the later copies are duplicates.
 */
function firstDeliveries(events: readonly Envelope[], fresh: ReadonlySet<string>): boolean[] {
  const seen = new Set<string>();
  return events.map((event) => {
    if (!fresh.has(event.id) || seen.has(event.id)) return false;
    seen.add(event.id);
    return true;
  });
}
