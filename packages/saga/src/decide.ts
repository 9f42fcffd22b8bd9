import { HeraldError, readEvent, type Envelope } from '@herald/core';
import { AWAIT_START_STEP, type SagaCommand, type SagaDefinition, type SagaStep, type SagaTrigger } from './definition.js';
import { SagaErrors } from './errors.js';
import type { DeadlineChange, SagaDecision, SagaInput, SagaState, SagaStepState, SagaStatus, SagaTransition } from './state.js';

/** Most events an instance keeps while it waits for its start event. */
export const MAX_EARLY_EVENTS = 100;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Draft<Data> = Mutable<Omit<SagaState<Data>, 'steps'>> & { steps: Mutable<SagaStepState>[] };

/** One decision in the making: a private copy of the state, and what it asks for so far. */
interface Work<Data> {
  readonly saga: SagaDefinition<Data>;
  readonly now: number;
  readonly state: Draft<Data>;
  readonly transitions: SagaTransition[];
  readonly commands: SagaCommand[];
  readonly deadlines: DeadlineChange[];
}

/**
 * The saga's state machine, a pure function: the instance's state (undefined before anything
 * happened) and one input — an event of its flow, or a step's deadline passing — at time `now` give
 * the new state, the transitions to publish, the events to publish and the deadline timers to set
 * or cancel. It never mutates `state`, reads no clock and calls only the definition's own (pure)
 * functions, so it can be run again with the same result (the runtime does, when a save lost a
 * race). The rules:
 *
 * - The start event starts an instance (a second one is ignored), activates the first step and
 *   applies the events that came before it, in arrival order.
 * - Before the start, a step's event is kept (`deferred`) and the instance's start timer set (again)
 *   to `awaitStartMs` from now; any other event is ignored. When that timer fires first, the
 *   instance ends never started (`failed`, step `(start)`, `SagaStartTimedOut`); it then ignores
 *   every event of its flow, its start event too.
 * - An event goes to the first step, in order, that it moves and that has not ended; if every step
 *   it moves has ended, to the first of them (a duplicate, or a late completion).
 * - A step's completion (even before the step is active) completes it and activates the next one;
 *   when none is left, the saga completes. A failure, or an active step's deadline, fails the step
 *   and the saga: deadlines are cancelled, completed steps compensated, last first. An event of any
 *   step (a later step's may come early) handled at or after the active step's deadline (`now`)
 *   finds that step timed out first, as its deadline input would.
 * - After the saga failed, a completion of a step that had not completed (it timed out, failed, or
 *   was still pending) is compensated at once: what happened late is undone.
 * - Anything else (duplicates, events of a finished saga, stale deadlines) is ignored.
 */
export function decideSaga<Data>(saga: SagaDefinition<Data>, state: SagaState<Data> | undefined, input: SagaInput, now: number): SagaDecision<Data> {
  if (input.kind === 'deadline') return onDeadline(saga, state, input, now);
  // as the saga's definitions read it (the runtime's dispatcher did already; a scenario may not)
  const event = asDefinedNow(saga, input.event);
  if (matches(saga.startedBy, event)) {
    if (state && state.status !== 'awaiting-start') return ignored(state);
    const work = begin(saga, state ?? initialState(saga, event.correlationId), now);
    if (state) work.deadlines.push({ kind: 'cancel', step: AWAIT_START_STEP });
    start(work, event);
    for (const early of work.state.early) apply(work, asDefinedNow(saga, early));
    work.state.early = [];
    return decided(work, 'applied');
  }
  const found = findTrigger(saga, event);
  if (!found) return ignored(state);
  if (!state || state.status === 'awaiting-start') return defer(saga, state, event, now);
  // ended before it started: nothing was done, so nothing to move or undo
  if (state.startedAt === null) return ignored(state);
  const work = begin(saga, state, now);
  return apply(work, event) ? decided(work, 'applied') : ignored(state);
}

function onDeadline<Data>(saga: SagaDefinition<Data>, state: SagaState<Data> | undefined, input: { step: string; deadlineAt: number }, now: number): SagaDecision<Data> {
  if (input.step === AWAIT_START_STEP) return state?.status === 'awaiting-start' ? abandon(saga, state, input.deadlineAt, now) : ignored(state);
  if (!state || state.status !== 'running') return ignored(state);
  const work = begin(saga, state, now);
  const step = work.state.steps.find((s) => s.name === input.step);
  if (!step || step.status !== 'active' || step.deadlineAt !== input.deadlineAt) return ignored(state);
  timeOut(work, step, input.deadlineAt);
  return decided(work, 'applied');
}

/** Fails an active step whose deadline passed, and the saga with it. */
function timeOut<Data>(work: Work<Data>, step: Mutable<SagaStepState>, deadlineAt: number): void {
  work.transitions.push({ type: 'SagaStepTimedOut', step: step.name, deadlineAt });
  fail(work, step, `no answer within ${definitionOf(work.saga, step.name).deadlineMs} ms`, true);
}

/** Ends an instance whose start event did not come in time; the events it kept stay in its state, for a look. */
function abandon<Data>(saga: SagaDefinition<Data>, state: SagaState<Data>, deadlineAt: number, now: number): SagaDecision<Data> {
  const work = begin(saga, state, now);
  finish(work, 'failed');
  work.state.failure = { step: AWAIT_START_STEP, reason: `no start event (${saga.startedBy.definition.type}) within ${saga.awaitStartMs} ms`, timedOut: true };
  work.transitions.push({ type: 'SagaStartTimedOut', deadlineAt, earlyEvents: state.early.length });
  return decided(work, 'applied');
}

/** Keeps an event of a flow whose start event has not come yet, and sets its start timer from now. */
function defer<Data>(saga: SagaDefinition<Data>, state: SagaState<Data> | undefined, event: Envelope, now: number): SagaDecision<Data> {
  const base = state ?? initialState(saga, event.correlationId);
  if (base.early.some((e) => e.id === event.id)) return ignored(state);
  if (base.early.length >= MAX_EARLY_EVENTS) {
    throw new HeraldError(SagaErrors.earlyEventsOverflow, `saga ${saga.name}: instance ${event.correlationId} has ${base.early.length} events waiting for its start event`);
  }
  const timer: DeadlineChange = { kind: 'schedule', step: AWAIT_START_STEP, at: now + saga.awaitStartMs };
  return { outcome: 'deferred', state: { ...base, early: [...base.early, structuredClone(event)] }, transitions: [], commands: [], deadlines: [timer] };
}

function start<Data>(work: Work<Data>, event: Envelope): void {
  const { state, saga, now } = work;
  state.data = saga.initial(event);
  state.status = 'running';
  state.startedAt = now;
  work.transitions.push({ type: 'SagaStarted', steps: saga.steps.map((s) => s.name) });
  advance(work);
}

/** Applies a step's event to a started instance; returns whether it changed anything. */
function apply<Data>(work: Work<Data>, event: Envelope): boolean {
  const found = findTrigger(work.saga, event, work.state.steps);
  if (!found) return false;
  const { step: definition, trigger, completes } = found;
  const step = work.state.steps.find((s) => s.name === definition.name)!;
  // The active step's deadline passed before this event was handled (the deadline's own input is
  // still on its way, or was lost): that step timed out first, whichever of the two arrives first,
  // and whichever step the event is for (a later step's event may come early). Its timer is
  // cancelled (it may not have fired yet); a completion is then late, and undone below.
  const overdue = work.state.status === 'running' ? work.state.steps.find((s) => s.status === 'active' && s.deadlineAt !== null && work.now >= s.deadlineAt) : undefined;
  if (overdue) {
    work.deadlines.push({ kind: 'cancel', step: overdue.name });
    timeOut(work, overdue, overdue.deadlineAt!);
  }
  const pending = step.status === 'waiting' || step.status === 'active';
  if (work.state.status === 'running' && pending) {
    update(work, trigger, event);
    if (!completes) {
      fail(work, step, trigger.reason?.(event) ?? event.type, false);
      return true;
    }
    if (step.status === 'active' && step.deadlineAt !== null) work.deadlines.push({ kind: 'cancel', step: step.name });
    end(work, step, 'completed', null);
    work.transitions.push({ type: 'SagaStepCompleted', step: step.name });
    advance(work);
    return true;
  }
  // a completion after the saga failed: the step happened after all, so it is undone at once
  const late = work.state.status === 'failed' && completes && (pending || step.status === 'failed' || step.status === 'timed-out');
  if (!late || !definition.compensate) return overdue !== undefined;
  update(work, trigger, event);
  end(work, step, 'compensated', `completed (${event.type}) after the saga failed`);
  work.transitions.push({ type: 'SagaCompensating', steps: [step.name], reason: `${step.name} completed after the saga failed` });
  work.commands.push(...definition.compensate(work.state.data as Data));
  return true;
}

/** Activates the first step not completed yet, or completes the saga when there is none. */
function advance<Data>(work: Work<Data>): void {
  const next = work.state.steps.find((s) => s.status !== 'completed');
  if (!next) return complete(work);
  if (next.status !== 'waiting') return;
  const definition = definitionOf(work.saga, next.name);
  next.status = 'active';
  next.startedAt = work.now;
  if (definition.deadlineMs !== undefined) {
    next.deadlineAt = work.now + definition.deadlineMs;
    work.deadlines.push({ kind: 'schedule', step: next.name, at: next.deadlineAt });
  }
  work.commands.push(...(definition.onStart?.(work.state.data as Data) ?? []));
}

function complete<Data>(work: Work<Data>): void {
  const { state } = work;
  finish(work, 'completed');
  work.transitions.push({ type: 'SagaCompleted', durationMs: work.now - (state.startedAt ?? work.now) });
  work.commands.push(...(work.saga.completed?.(state.data as Data) ?? []));
}

/** Fails `failed` and the saga: cancels deadlines, compensates completed steps (last first), runs onFailed. */
function fail<Data>(work: Work<Data>, failed: Mutable<SagaStepState>, reason: string, timedOut: boolean): void {
  const { state } = work;
  for (const step of state.steps) {
    if (step.status === 'active' && step.deadlineAt !== null && !(timedOut && step === failed)) work.deadlines.push({ kind: 'cancel', step: step.name });
  }
  end(work, failed, timedOut ? 'timed-out' : 'failed', reason);
  const compensated: string[] = [];
  for (const step of [...state.steps].reverse()) {
    const compensate = step.status === 'completed' ? definitionOf(work.saga, step.name).compensate : undefined;
    if (!compensate) continue;
    work.commands.push(...compensate(state.data as Data));
    end(work, step, 'compensated', `${failed.name} ${timedOut ? 'timed out' : 'failed'}`);
    compensated.push(step.name);
  }
  if (compensated.length > 0) work.transitions.push({ type: 'SagaCompensating', steps: compensated, reason: `${failed.name}: ${reason}` });
  const failure = { step: failed.name, reason, timedOut };
  finish(work, 'failed');
  state.failure = failure;
  work.transitions.push({ type: 'SagaFailed', ...failure, durationMs: work.now - (state.startedAt ?? work.now) });
  work.commands.push(...(work.saga.failed?.(state.data as Data, failure) ?? []));
}

function end<Data>(work: Work<Data>, step: Mutable<SagaStepState>, status: SagaStepState['status'], reason: string | null): void {
  step.status = status;
  step.endedAt = work.now;
  step.reason = reason;
}

function finish<Data>(work: Work<Data>, status: SagaStatus): void {
  work.state.status = status;
  work.state.endedAt = work.now;
}

function update<Data>(work: Work<Data>, trigger: SagaTrigger<Data>, event: Envelope): void {
  if (trigger.update) work.state.data = trigger.update(work.state.data as Data, event);
}

/**
 * An event as the saga's definition of its type reads it: one of an earlier version upcast, one of
 * a version it does not read refused (`unknown-event-type`, naming it). Events the runtime hands
 * over are read already (unchanged here); an early event kept by an earlier release may not be.
 */
function asDefinedNow<Data>(saga: SagaDefinition<Data>, event: Envelope): Envelope {
  const start = saga.startedBy.definition;
  if (start.type === event.type) return start.version === event.version ? event : readEvent(start, event);
  for (const step of saga.steps) {
    for (const trigger of [...step.completedBy, ...step.failedBy]) {
      if (trigger.definition.type === event.type) return trigger.definition.version === event.version ? event : readEvent(trigger.definition, event);
    }
  }
  return event;
}

function matches<Data>(trigger: SagaTrigger<Data>, event: Envelope): boolean {
  return trigger.definition.type === event.type && (trigger.when?.(event) ?? true);
}

type Found<Data> = { step: SagaStep<Data>; trigger: SagaTrigger<Data>; completes: boolean };

/**
 * The step an event is for: the first step (in order) with a trigger for it that has not ended
 * (`waiting` or `active` in `steps`), else the first with a trigger for it at all (a duplicate, or
 * a late completion); within a step, completions before failures. An event type several steps
 * react to (a cancellation each step fails on, an approval each of two steps needs) thus moves the
 * step whose turn it is, not the first step, long completed, that would ignore it.
 */
function findTrigger<Data>(saga: SagaDefinition<Data>, event: Envelope, steps: readonly SagaStepState[] = []): Found<Data> | undefined {
  let first: Found<Data> | undefined;
  for (const step of saga.steps) {
    const found = triggerOf(step, event);
    if (!found) continue;
    const status = steps.find((s) => s.name === step.name)?.status;
    if (status === 'waiting' || status === 'active') return found;
    first ??= found;
  }
  return first;
}

function triggerOf<Data>(step: SagaStep<Data>, event: Envelope): Found<Data> | undefined {
  const completion = step.completedBy.find((t) => matches(t, event));
  if (completion) return { step, trigger: completion, completes: true };
  const failure = step.failedBy.find((t) => matches(t, event));
  return failure && { step, trigger: failure, completes: false };
}

function definitionOf<Data>(saga: SagaDefinition<Data>, name: string): SagaStep<Data> {
  return saga.steps.find((s) => s.name === name)!;
}

/** A private, mutable copy of the state with the definition's steps (a step added since it was saved starts out waiting). */
function begin<Data>(saga: SagaDefinition<Data>, state: SagaState<Data>, now: number): Work<Data> {
  const copy = structuredClone(state) as Draft<Data>;
  copy.steps = saga.steps.map((definition) => copy.steps.find((s) => s.name === definition.name) ?? waiting(definition.name));
  return { saga, now, state: copy, transitions: [], commands: [], deadlines: [] };
}

function initialState<Data>(saga: SagaDefinition<Data>, instanceId: string): SagaState<Data> {
  return { saga: saga.name, instanceId, status: 'awaiting-start', data: null, steps: saga.steps.map((s) => waiting(s.name)), startedAt: null, endedAt: null, failure: null, early: [] };
}

function waiting(name: string): Mutable<SagaStepState> {
  return { name, status: 'waiting', startedAt: null, deadlineAt: null, endedAt: null, reason: null };
}

function decided<Data>(work: Work<Data>, outcome: 'applied'): SagaDecision<Data> {
  return { outcome, state: work.state, transitions: work.transitions, commands: work.commands, deadlines: work.deadlines };
}

function ignored<Data>(state: SagaState<Data> | undefined): SagaDecision<Data> {
  return { outcome: 'ignored', state, transitions: [], commands: [], deadlines: [] };
}
