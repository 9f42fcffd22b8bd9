import { randomUUID } from 'node:crypto';
import type { Static, TSchema } from '@sinclair/typebox';
import { CoreErrors, HeraldError, type Envelope, type EventDefinition } from '@herald/core';
import { decideSaga } from './decide.js';
import type { SagaDefinition } from './definition.js';
import type { DeadlineChange, SagaDecision, SagaInput, SagaOutcome, SagaState, SagaTransition } from './state.js';

/** Options of {@link sagaEvent}: the flow the event belongs to, and optionally its id and time. */
export interface SagaEventOptions {
  /** The saga instance it belongs to. */
  readonly correlationId: string;
  readonly id?: string;
  readonly occurredAt?: Date;
  readonly key?: string;
}

/**
 * An envelope as a handler would receive it, for tests of a saga's decisions: `data` is checked
 * against the definition's schema now, so a test cannot feed the saga an event no producer could
 * publish.
 *
 * @example
 * const created = sagaEvent(OrderCreated, { orderId: 'o-1', totalCents: 500 }, { correlationId: 'o-1' });
 */
export function sagaEvent<S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options: SagaEventOptions): Envelope<Static<S>> {
  if (!options || typeof options.correlationId !== 'string' || options.correlationId.length === 0) {
    throw new HeraldError(CoreErrors.invalidOptions, `sagaEvent(${definition.type}): give the correlationId of the flow`);
  }
  const valid = definition.parse(data);
  return {
    id: options.id ?? randomUUID(),
    type: definition.type,
    version: definition.version,
    topic: definition.topic,
    key: options.key ?? definition.key(valid),
    correlationId: options.correlationId,
    causationId: null,
    occurredAt: (options.occurredAt ?? new Date(0)).toISOString(),
    headers: {},
    data: valid,
  };
}

/** An event a saga asked to publish, as a test sees it. */
export interface PublishedBySaga {
  readonly type: string;
  readonly topic: string;
  readonly data: unknown;
}

/** What one `when...` step of a {@link SagaScenario} did: every decision it caused, merged. */
export interface SagaStepResult<Data> {
  /** `applied` when any input changed the instance, else `deferred` or `ignored`. */
  readonly outcome: SagaOutcome;
  /** The instance afterwards. */
  readonly state: SagaState<Data> | undefined;
  readonly transitions: readonly SagaTransition[];
  /** The transitions' event types, in order (`['SagaStepCompleted', 'SagaCompleted']`). */
  readonly transitionTypes: readonly string[];
  /** The events the saga asked for (compensations, step starts, ends), in order. */
  readonly published: readonly PublishedBySaga[];
  readonly deadlines: readonly DeadlineChange[];
}

/**
 * A given/when/then test of a saga's decisions, with no app, store or broker: time moves only
 * when the test says so, and a step's deadline fires when time passes it, as the durable timer
 * would. Decisions are taken at the scenario's time rounded down to a whole ms, as the runtime
 * takes them. Each `when...` returns what that input did; `state` and `pendingDeadlines` say where
 * the instance stands.
 */
export interface SagaScenario<Data> {
  /** The scenario's time (ms since the epoch). */
  readonly now: number;
  /** The instance as the decisions so far left it (undefined before any event of its flow). */
  readonly state: SagaState<Data> | undefined;
  /** The deadline timers set and not cancelled or fired: step and due time, soonest first. */
  pendingDeadlines(): readonly { readonly step: string; readonly at: number }[];
  /** Applies events as history (their results are not returned); returns the scenario. */
  given(...events: Envelope[]): SagaScenario<Data>;
  /** Applies one event at the current time. */
  when(event: Envelope): SagaStepResult<Data>;
  /** Moves time forward by `ms`, firing every deadline it passes, soonest first, each at its due time. */
  whenTimePasses(ms: number): SagaStepResult<Data>;
}

/** Options of {@link givenSaga}. */
export interface GivenSagaOptions {
  /** Where time starts (ms since the epoch). Default 0. */
  readonly startMs?: number;
}

/**
 * Starts a given/when/then scenario of a saga's pure decision logic ({@link decideSaga}), for one
 * instance.
 *
 * @example
 * const scenario = givenSaga(OrderSaga).given(sagaEvent(OrderCreated, created, { correlationId: 'o-1' }));
 * const result = scenario.whenTimePasses(30_000);
 * expect(result.transitionTypes).toEqual(['SagaStepTimedOut', 'SagaFailed']);
 */
export function givenSaga<Data>(saga: SagaDefinition<Data>, options: GivenSagaOptions = {}): SagaScenario<Data> {
  const startMs = options.startMs ?? 0;
  if (!Number.isFinite(startMs)) throw new HeraldError(CoreErrors.invalidOptions, `givenSaga: startMs must be a finite number, got ${String(startMs)}`);
  let now = startMs;
  let state: SagaState<Data> | undefined;
  const deadlines = new Map<string, number>();

  const run = (input: SagaInput, at: number): SagaDecision<Data> => {
    // whole ms, as the runtime decides (the saga topic's events carry them): a scenario on fractions would
    // set deadlines and durations the runtime never would
    const decision = decideSaga(saga, state, input, Math.floor(at));
    state = decision.state;
    for (const change of decision.deadlines) {
      if (change.kind === 'schedule') deadlines.set(change.step, change.at);
      else deadlines.delete(change.step);
    }
    return decision;
  };
  const pending = () => [...deadlines].map(([step, at]) => ({ step, at })).sort((a, b) => a.at - b.at);

  const scenario: SagaScenario<Data> = {
    get now() {
      return now;
    },
    get state() {
      return state;
    },
    pendingDeadlines: pending,
    given(...events) {
      for (const event of events) run({ kind: 'event', event }, now);
      return scenario;
    },
    when(event) {
      return merge([run({ kind: 'event', event }, now)], state);
    },
    whenTimePasses(ms) {
      if (!(Number.isFinite(ms) && ms >= 0)) throw new HeraldError(CoreErrors.invalidOptions, `whenTimePasses: ms must be a number >= 0, got ${String(ms)}`);
      const until = now + ms;
      const decisions: SagaDecision<Data>[] = [];
      for (let next = pending()[0]; next !== undefined && next.at <= until; next = pending()[0]) {
        deadlines.delete(next.step);
        now = Math.max(now, next.at);
        decisions.push(run({ kind: 'deadline', step: next.step, deadlineAt: next.at }, now));
      }
      now = until;
      return merge(decisions, state);
    },
  };
  return scenario;
}

function merge<Data>(decisions: readonly SagaDecision<Data>[], state: SagaState<Data> | undefined): SagaStepResult<Data> {
  const outcomes = decisions.map((d) => d.outcome);
  const outcome: SagaOutcome = outcomes.includes('applied') ? 'applied' : outcomes.includes('deferred') ? 'deferred' : 'ignored';
  const transitions = decisions.flatMap((d) => d.transitions);
  return {
    outcome,
    state,
    transitions,
    transitionTypes: transitions.map((t) => t.type),
    published: decisions.flatMap((d) => d.commands.map((c) => ({ type: c.definition.type, topic: c.definition.topic, data: c.data }))),
    deadlines: decisions.flatMap((d) => d.deadlines),
  };
}
