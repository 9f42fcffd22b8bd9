import { createHash } from 'node:crypto';
import {
  CoreErrors,
  hasSagas,
  hasTimers,
  HeraldError,
  type App,
  type Envelope,
  type HandlerContext,
  type HandlerPolicy,
  type Pipeline,
  type SagaRecord,
  type SagaStore,
} from '@herald/core';
import { decideSaga } from './decide.js';
import type { SagaDefinition } from './definition.js';
import { SagaErrors } from './errors.js';
import { sagaEvents, type SagaEventData, type SagaEvents } from './events.js';
import { factOf } from './facts.js';
import type { SagaDecision, SagaInput, SagaState, SagaTransition } from './state.js';

/** What {@link RegisterSagaOptions.effects} is told after each change of an instance. */
export interface SagaChange<Data> {
  /** The event handled (for a deadline: the `SagaDeadlineReached` event). */
  readonly event: Envelope;
  readonly previous: SagaState<Data> | undefined;
  readonly state: SagaState<Data>;
  readonly decision: SagaDecision<Data>;
}

/** Options of {@link registerSaga}: where its handler runs, its policies, and its effects on your tables. */
export interface RegisterSagaOptions<Tx, Data> extends HandlerPolicy<Tx> {
  /** The consumer group of the saga's handler. Default `<saga name>-saga`. */
  readonly group?: string;
  /** The handler's name. Default `<group>:<saga name>`. */
  readonly name?: string;
  /**
   * Runs in the handler's transaction after each change of an instance was saved (and its events
   * published): for what the saga means to your own tables — an order's status when its saga
   * completes or fails. A throw rolls everything back, and the event is retried.
   */
  readonly effects?: (ctx: HandlerContext<Tx>, change: SagaChange<Data>) => Promise<void>;
  /** Edits the handler's pipeline (after the app's and the group's edits). */
  pipeline?(pipeline: Pipeline<Tx>): Pipeline<Tx>;
}

/** Saves that lose a race in one transaction before giving up with a retriable `saga-conflict`. */
const SAVE_ROUNDS = 8;
const MAX_TIMER_ID = 500;

/**
 * Runs a saga in an app: one handler, in the group `<name>-saga` by default, for its start event,
 * its steps' events and its deadlines (`SagaDeadlineReached` on `<topic>-deadlines`: a step's, and
 * the one that ends an instance whose start event did not come). It goes
 * through the normal pipeline (inbox, retries, dead letters), and each event is handled in one
 * transaction: the inbox mark, the instance's new state (saga store), the deadline timers set or
 * cancelled (timer store), the transitions published on the saga topic, the events the saga asks
 * for, and your `effects` — all commit together or not at all. The instance is the event's
 * correlation id. Concurrent events of one instance (they come from different topics) take turns:
 * the store holds the instance for the transaction that loaded it, or refuses a stale save, and the
 * handler then decides again on what the other committed. Once a change committed, `saga` facts are
 * emitted on the app's instrumentation (counted by `@herald/metrics` when it is used).
 *
 * Requires stores with saga state (`hasSagas`) and timers (`hasTimers`: steps' deadlines, and the
 * end of an instance whose start event does not come within `awaitStartMs`). The sagas of one app
 * share one saga topic (its events, the deadline's among them, are defined once per app).
 *
 * @example
 * registerSaga(app, OrderSaga, {
 *   effects: async (ctx, { state }) => {
 *     if (state.status === 'failed') await ctx.tx.execute("UPDATE orders SET status = 'CANCELLED' WHERE order_id = $1", [state.instanceId]);
 *   },
 * });
 */
export function registerSaga<Tx, Data>(app: App<Tx>, saga: SagaDefinition<Data>, options: RegisterSagaOptions<Tx, Data> = {}): void {
  if (saga.steps.length === 0) throw new HeraldError(CoreErrors.invalidOptions, `saga ${saga.name} has no steps: add them with .step()`);
  if (!hasSagas<object, Tx>(app.stores)) throw new HeraldError(SagaErrors.sagasUnavailable, `saga ${saga.name}: the app's stores have no saga store`);
  // every saga sets timers: a step's deadline, and an instance's wait for its start event
  if (!hasTimers(app.stores)) {
    throw new HeraldError(CoreErrors.timersUnavailable, `saga ${saga.name}: an instance waiting for its start event ends on a timer (awaitStartMs), and the app's stores have no timer store`);
  }
  const events = sagaEvents(saga.topic);
  const other = app.events.find((d) => d.type === events.SagaDeadlineReached.type && d !== events.SagaDeadlineReached);
  if (other) {
    throw new HeraldError(CoreErrors.invalidOptions, `saga ${saga.name}: this app already runs a saga on topic ${other.topic.replace(/-deadlines$/, '')}; the sagas of one app share one topic (give them the same \`topic\`)`);
  }
  const store = app.stores.sagas;
  const group = options.group ?? `${saga.name}-saga`;
  const { effects, group: _group, ...policy } = options;
  app.on([...saga.inputs, events.SagaDeadlineReached], { ...policy, group, name: options.name ?? `${group}:${saga.name}` }, async (event, ctx) => {
    const found = inputOf(saga, events, event);
    if (!found) return;
    const { input, instanceId } = found;
    // whole ms: the saga topic's events carry them (deadlineAt, durationMs), and a clock may give
    // fractions (a high-resolution one, a manual one advanced by them)
    const { previous, decision } = await decideAndSave(store, saga, ctx, { instanceId, input }, Math.floor(app.clock.now()));
    if (decision.outcome === 'ignored' || !decision.state) {
      ctx.logger.debug('saga: nothing to do', { saga: saga.name, instanceId, eventType: event.type });
      return;
    }
    await publishDecision(ctx, saga, events, decision.state, decision);
    await effects?.(ctx, { event, previous, state: decision.state, decision });
    for (const transition of decision.transitions) ctx.emitAfterCommit(factOf(saga.name, transition));
  });
}

/**
 * The saga's input for an event, and the instance it goes to: a deadline of this saga names its
 * instance in its data (its correlation id may be another's: a deadline redriven or published
 * again), an event of its flow by its correlation id; none for another saga's deadline.
 */
function inputOf<Data>(saga: SagaDefinition<Data>, events: SagaEvents, event: Envelope): { input: SagaInput; instanceId: string } | undefined {
  if (event.type !== events.SagaDeadlineReached.type) return { input: { kind: 'event', event }, instanceId: event.correlationId };
  const data = event.data as SagaEventData['SagaDeadlineReached'];
  return data.saga === saga.name ? { input: { kind: 'deadline', step: data.step, deadlineAt: data.deadlineAt }, instanceId: data.instanceId } : undefined;
}

/** Loads, decides and saves until a save wins (each lost race means another transaction committed first). */
async function decideAndSave<Tx, Data>(store: SagaStore<Tx>, saga: SagaDefinition<Data>, ctx: HandlerContext<Tx>, target: { instanceId: string; input: SagaInput }, now: number) {
  const { instanceId, input } = target;
  for (let round = 1; round <= SAVE_ROUNDS; round++) {
    const record = await store.load(ctx.tx, saga.name, instanceId);
    const previous = record?.state as SagaState<Data> | undefined;
    const decision = decideSaga(saga, previous, input, now);
    if (decision.outcome === 'ignored' || !decision.state) return { previous, decision };
    const next: SagaRecord = {
      saga: saga.name,
      instanceId,
      status: decision.state.status,
      version: (record?.version ?? 0) + 1,
      state: decision.state,
      createdAt: record?.createdAt ?? now,
      updatedAt: now,
    };
    if (await store.save(ctx.tx, next)) return { previous, decision };
    ctx.logger.debug('saga: the instance changed meanwhile, deciding again', { saga: saga.name, instanceId, round });
  }
  throw new HeraldError(SagaErrors.sagaConflict, `saga ${saga.name}: instance ${instanceId} changed under ${SAVE_ROUNDS} saves in a row`);
}

/**
 * Sets and cancels the deadline timers, then publishes the transitions and the saga's commands,
 * all under the instance's id as correlation id (the flow's: a deadline handled may carry another).
 */
async function publishDecision<Tx, Data>(ctx: HandlerContext<Tx>, saga: SagaDefinition<Data>, events: SagaEvents, state: SagaState<Data>, decision: SagaDecision<Data>): Promise<void> {
  const { instanceId } = state;
  const correlated = { correlationId: instanceId };
  for (const change of decision.deadlines) {
    const timerId = deadlineTimerId(saga.name, instanceId, change.step);
    if (change.kind === 'cancel') await ctx.publish.cancelTimer(timerId);
    else await ctx.publish.schedule(events.SagaDeadlineReached, { saga: saga.name, instanceId, step: change.step, deadlineAt: change.at }, { ...correlated, at: change.at, timerId });
  }
  for (const transition of decision.transitions) await publishTransition(ctx, events, saga.name, instanceId, transition);
  for (const command of decision.commands) await ctx.publish(command.definition, command.data, { ...correlated, ...command.options });
}

function publishTransition<Tx>(ctx: HandlerContext<Tx>, events: SagaEvents, saga: string, instanceId: string, transition: SagaTransition): Promise<unknown> {
  const base = { saga, instanceId };
  const options = { correlationId: instanceId };
  switch (transition.type) {
    case 'SagaStarted':
      return ctx.publish(events.SagaStarted, { ...base, steps: [...transition.steps] }, options);
    case 'SagaStepCompleted':
      return ctx.publish(events.SagaStepCompleted, { ...base, step: transition.step }, options);
    case 'SagaStepTimedOut':
      return ctx.publish(events.SagaStepTimedOut, { ...base, step: transition.step, deadlineAt: new Date(transition.deadlineAt).toISOString() }, options);
    case 'SagaStartTimedOut':
      return ctx.publish(events.SagaStartTimedOut, { ...base, deadlineAt: new Date(transition.deadlineAt).toISOString(), earlyEvents: transition.earlyEvents }, options);
    case 'SagaCompensating':
      return ctx.publish(events.SagaCompensating, { ...base, steps: [...transition.steps], reason: transition.reason }, options);
    case 'SagaFailed':
      return ctx.publish(events.SagaFailed, { ...base, step: transition.step, reason: transition.reason, timedOut: transition.timedOut, durationMs: Math.max(0, transition.durationMs) }, options);
    case 'SagaCompleted':
      return ctx.publish(events.SagaCompleted, { ...base, durationMs: Math.max(0, transition.durationMs) }, options);
  }
}

/** The timer id of a step's deadline: readable, or with the instance id hashed when that is too long. */
export function deadlineTimerId(saga: string, instanceId: string, step: string): string {
  const readable = `saga:${saga}:${instanceId}:${step}`;
  if (readable.length <= MAX_TIMER_ID) return readable;
  return `saga:${saga}:sha256-${createHash('sha256').update(instanceId).digest('hex')}:${step}`;
}
