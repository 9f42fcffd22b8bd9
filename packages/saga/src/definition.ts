import type { Static, TSchema } from '@sinclair/typebox';
import { CoreErrors, HeraldError, type Envelope, type EventDefinition } from '@herald/core';
import type { SagaFailure } from './state.js';


/**
 * The longest step deadline: 100 years. A deadline is a durable timer at a time in ms, which must
 * stay within a Date's range; a step allowed any finite value (1e16) would be accepted here and
 * refused when its timer is set, dead-lettering every start event of the saga.
 */
export const MAX_DEADLINE_MS = 100 * 365.25 * 24 * 3_600_000;

/** How long an instance waits for its start event by default (see {@link DefineSagaOptions.awaitStartMs}): 7 days. */
export const DEFAULT_AWAIT_START_MS = 7 * 24 * 3_600_000;

/**
 * The step name of the timer that ends an instance still waiting for its start event
 * (`SagaDeadlineReached` with this `step`). Not a valid step name, so it names no step; a release
 * that does not know it takes it for a stale deadline and ignores it.
 */
export const AWAIT_START_STEP = '(start)';

/** An event a saga reacts to: its definition, which of its events count, and what they change. */
export interface SagaTrigger<Data> {
  readonly definition: EventDefinition;
  /** Which events of that type count (default: all). */
  readonly when?: (event: Envelope) => boolean;
  /** The saga's data after the event (default: unchanged). Pure; the result must be JSON. */
  readonly update?: (data: Data, event: Envelope) => Data;
  /** For a failure: why the step failed, in a few words (default: the event type). */
  readonly reason?: (event: Envelope) => string;
}

/** Options of {@link on}, typed by the event's schema. */
export interface TriggerOptions<S extends TSchema, Data> {
  readonly when?: (event: Envelope<Static<S>>) => boolean;
  readonly update?: (data: Data, event: Envelope<Static<S>>) => Data;
  readonly reason?: (event: Envelope<Static<S>>) => string;
}

/**
 * Says which events complete (or fail) a step: `on(PaymentProcessed, { when: (e) => e.data.success })`.
 *
 * @example
 * completedBy: on(PaymentAuthorized, { update: (data, event) => ({ ...data, paymentId: event.data.paymentId }) }),
 * failedBy: on(PaymentDeclined, { reason: (event) => event.data.reason }),
 */
export function on<S extends TSchema, Data>(definition: EventDefinition<S>, options: TriggerOptions<S, Data> = {}): SagaTrigger<Data> {
  if (!definition || typeof definition.type !== 'string') throw invalid('on(): give an event definition');
  return { definition: definition as unknown as EventDefinition, ...(options as Omit<SagaTrigger<Data>, 'definition'>) };
}

/** An event a saga asks to publish (see {@link emit}): data, not an effect, so deciding stays pure. */
export interface SagaCommand {
  readonly kind: 'publish';
  readonly definition: EventDefinition;
  readonly data: unknown;
  readonly options?: { readonly key?: string; readonly id?: string; readonly headers?: Readonly<Record<string, string>> };
}

/**
 * An event for the saga to publish (a compensation, a step's request, the flow's outcome), checked
 * against its schema now. The runtime publishes it through the outbox in the transaction that
 * saves the saga's new state, caused by the event being handled (so it shares the flow's
 * correlation id).
 */
export function emit<S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options?: SagaCommand['options']): SagaCommand {
  return { kind: 'publish', definition: definition as unknown as EventDefinition, data: definition.parse(data), ...(options ? { options } : {}) };
}

/** A step: the events that complete or fail it, its deadline and its compensation. */
export interface SagaStepOptions<Data> {
  readonly completedBy: SagaTrigger<Data> | readonly SagaTrigger<Data>[];
  readonly failedBy?: SagaTrigger<Data> | readonly SagaTrigger<Data>[];
  /** How long the step may take once it is active; past it, the step times out and the saga fails. Default: no deadline. */
  readonly deadlineMs?: number;
  /** Events to publish when the step becomes active (to ask for it, when the saga orchestrates). */
  readonly onStart?: (data: Data) => readonly SagaCommand[];
  /**
   * Events that undo the step once it completed: sent, in reverse step order, when a later step
   * fails or times out; and for a completion that arrives after the saga failed (a late payment is
   * refunded). Without it, the step needs no undoing.
   */
  readonly compensate?: (data: Data) => readonly SagaCommand[];
}

/** A step as the definition keeps it. */
export interface SagaStep<Data> {
  readonly name: string;
  readonly completedBy: readonly SagaTrigger<Data>[];
  readonly failedBy: readonly SagaTrigger<Data>[];
  readonly deadlineMs: number | undefined;
  readonly onStart: ((data: Data) => readonly SagaCommand[]) | undefined;
  readonly compensate: ((data: Data) => readonly SagaCommand[]) | undefined;
}

/**
 * A saga: which event starts it (an instance per correlation id), the steps it waits for, in
 * order, and how it ends. Immutable: `step`, `onCompleted` and `onFailed` return a new definition.
 */
export interface SagaDefinition<Data> {
  readonly name: string;
  /** Where its transitions are published; its deadlines travel on `<topic>-deadlines`. */
  readonly topic: string;
  readonly startedBy: SagaTrigger<Data>;
  /** The saga's data from its start event. */
  readonly initial: (event: Envelope) => Data;
  readonly steps: readonly SagaStep<Data>[];
  /** How long an instance waits for its start event after the last event it kept (whole ms). */
  readonly awaitStartMs: number;
  readonly completed: ((data: Data) => readonly SagaCommand[]) | undefined;
  readonly failed: ((data: Data, failure: SagaFailure) => readonly SagaCommand[]) | undefined;
  /** Every event definition the saga consumes (its start event and its steps' events), each once. */
  readonly inputs: readonly EventDefinition[];
  /** Adds a step after the others: it becomes active once every step before it completed. */
  step(name: string, options: SagaStepOptions<Data>): SagaDefinition<Data>;
  /** Events to publish when every step completed. */
  onCompleted(commands: (data: Data) => readonly SagaCommand[]): SagaDefinition<Data>;
  /** Events to publish when the saga failed (after the compensations). */
  onFailed(commands: (data: Data, failure: SagaFailure) => readonly SagaCommand[]): SagaDefinition<Data>;
}

/** Options of {@link defineSaga}. */
export interface DefineSagaOptions<S extends TSchema, Data> {
  /** The saga's name: letters, digits, `.`, `_`, `-` (1 to 100). */
  readonly name: string;
  /** Topic of its transitions (SagaStarted ... SagaCompleted). Default `<name>-saga`. */
  readonly topic?: string;
  /** The event that starts an instance; its correlation id names the instance. */
  readonly startedBy: EventDefinition<S>;
  /** Which events of that type start one (default: all). */
  readonly when?: (event: Envelope<Static<S>>) => boolean;
  /** The saga's data from the start event (JSON: it is stored as such). */
  readonly initial: (event: Envelope<Static<S>>) => Data;
  /**
   * How long an instance whose flow's events came before its start event waits for it, counted
   * from the last event it kept. Then it ends, never started: status `failed`, failure step
   * `(start)`, `SagaStartTimedOut` on the saga topic; retention deletes it like any finished one,
   * and an event of its flow that comes meanwhile (the start event too) is ignored. Default 7 days;
   * at most {@link MAX_DEADLINE_MS}. Keep it longer than a start event may sit in the dead letters.
   */
  readonly awaitStartMs?: number;
}

const NAME = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * Defines a saga. An instance starts with `startedBy` (one per correlation id), then waits for
 * its steps in order: a step is active once every step before it completed, completes or fails on
 * its events (which may arrive early, before the step is active: they count), and fails when its
 * deadline passes first. When every step completed the saga completes; when one fails or times
 * out, the completed steps are compensated, last first, and the saga fails. The decision logic is
 * pure ({@link decideSaga}); {@link registerSaga} runs it in an app, {@link givenSaga} tests it.
 *
 * @example
 * const OrderSaga = defineSaga({ name: 'order', startedBy: OrderCreated, initial: (e) => ({ orderId: e.data.orderId, paid: 0 }) })
 *   .step('payment', {
 *     deadlineMs: 30_000,
 *     completedBy: on(PaymentProcessed, { when: (e) => e.data.success, update: (d, e) => ({ ...d, paid: e.data.amount }) }),
 *     failedBy: on(PaymentProcessed, { when: (e) => !e.data.success, reason: () => 'INSUFFICIENT_FUNDS' }),
 *     compensate: (d) => [emit(RefundRequested, { orderId: d.orderId, amount: d.paid })],
 *   })
 *   .onCompleted((d) => [emit(OrderStatusUpdated, { orderId: d.orderId, status: 'PAID' })])
 *   .onFailed((d, failure) => [emit(OrderStatusUpdated, { orderId: d.orderId, status: failure.timedOut ? 'PAYMENT_TIMEOUT' : failure.reason })]);
 */
export function defineSaga<S extends TSchema, Data>(options: DefineSagaOptions<S, Data>): SagaDefinition<Data> {
  if (!options || typeof options !== 'object') throw invalid('defineSaga: options are required');
  if (typeof options.name !== 'string' || !NAME.test(options.name)) throw invalid(`defineSaga: name "${String(options.name)}" must match ${NAME}`);
  if (typeof options.initial !== 'function') throw invalid(`saga ${options.name}: initial must be a function of the start event`);
  const topic = options.topic ?? `${options.name}-saga`;
  if (typeof topic !== 'string' || !/^[A-Za-z0-9._-]{1,180}$/.test(topic)) throw invalid(`saga ${options.name}: topic "${String(topic)}" must match /^[A-Za-z0-9._-]{1,180}$/`);
  const awaitStartMs = options.awaitStartMs ?? DEFAULT_AWAIT_START_MS;
  if (!validDuration(awaitStartMs)) throw invalid(`saga ${options.name}: awaitStartMs must be a positive number of ms up to ${MAX_DEADLINE_MS} (100 years), got ${String(awaitStartMs)}`);
  return build<Data>({
    name: options.name,
    topic,
    awaitStartMs: Math.ceil(awaitStartMs),
    startedBy: on(options.startedBy, { when: options.when }) as SagaTrigger<Data>,
    initial: options.initial as (event: Envelope) => Data,
    steps: [],
    completed: undefined,
    failed: undefined,
  });
}

type Parts<Data> = Omit<SagaDefinition<Data>, 'inputs' | 'step' | 'onCompleted' | 'onFailed'>;

function build<Data>(parts: Parts<Data>): SagaDefinition<Data> {
  const inputs = new Map<string, EventDefinition>();
  for (const trigger of [parts.startedBy, ...parts.steps.flatMap((s) => [...s.completedBy, ...s.failedBy])]) {
    const known = inputs.get(trigger.definition.type);
    if (known && known !== trigger.definition) throw invalid(`saga ${parts.name}: two different definitions of ${trigger.definition.type}`);
    inputs.set(trigger.definition.type, trigger.definition);
  }
  return Object.freeze({
    ...parts,
    inputs: [...inputs.values()],
    step: (name: string, options: SagaStepOptions<Data>) => build({ ...parts, steps: [...parts.steps, stepOf(parts, name, options)] }),
    onCompleted: (commands: (data: Data) => readonly SagaCommand[]) => build({ ...parts, completed: fn(parts.name, 'onCompleted', commands) }),
    onFailed: (commands: (data: Data, failure: SagaFailure) => readonly SagaCommand[]) => build({ ...parts, failed: fn(parts.name, 'onFailed', commands) }),
  });
}

function stepOf<Data>(parts: Parts<Data>, name: string, options: SagaStepOptions<Data>): SagaStep<Data> {
  const where = `saga ${parts.name}, step ${String(name)}`;
  if (typeof name !== 'string' || !NAME.test(name)) throw invalid(`${where}: the name must match ${NAME}`);
  if (parts.steps.some((s) => s.name === name)) throw invalid(`${where}: a step of that name exists already`);
  if (!options || typeof options !== 'object') throw invalid(`${where}: options are required`);
  const completedBy = list(options.completedBy);
  const failedBy = list(options.failedBy);
  if (completedBy.length === 0) throw invalid(`${where}: completedBy needs at least one event (see on())`);
  for (const trigger of [...completedBy, ...failedBy]) {
    if (!trigger?.definition) throw invalid(`${where}: completedBy and failedBy take triggers made with on()`);
    if (trigger.definition.type === parts.startedBy.definition.type) throw invalid(`${where}: ${trigger.definition.type} starts the saga; it cannot also move a step`);
  }
  const { deadlineMs } = options;
  if (deadlineMs !== undefined && !validDuration(deadlineMs)) {
    throw invalid(`${where}: deadlineMs must be a positive number of ms up to ${MAX_DEADLINE_MS} (100 years), got ${String(deadlineMs)}`);
  }
  return {
    name,
    completedBy,
    failedBy,
    deadlineMs: deadlineMs === undefined ? undefined : Math.ceil(deadlineMs),
    onStart: fn(where, 'onStart', options.onStart),
    compensate: fn(where, 'compensate', options.compensate),
  };
}

function validDuration(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 && ms <= MAX_DEADLINE_MS;
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function fn<F>(where: string, what: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalid(`${where}: ${what} must be a function`);
  return value;
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
