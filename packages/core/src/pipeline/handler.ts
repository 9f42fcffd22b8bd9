import type { Static, TSchema } from '@sinclair/typebox';
import type { Envelope } from '../model/envelope.js';
import type { EventDefinition } from '../model/events.js';
import type { Delivery } from '../ports/broker.js';
import type { InstrumentationEvent } from '../ports/instrumentation.js';
import type { Logger } from '../ports/logger.js';
import type { DeliveryState } from './deliveryState.js';

/** Options for publishing one event. Correlation and causation default from the context. */
export interface PublishOptions {
  /** Overrides the key derived by the definition. */
  readonly key?: string;
  readonly correlationId?: string;
  readonly causationId?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** Overrides the event id (must be a UUID); use to make a publish idempotent. */
  readonly id?: string;
  readonly occurredAt?: Date;
  /**
   * The event this one is a consequence of: correlation id, causation id and trace headers come
   * from it (a handler's `ctx.publish` defaults to the event being handled; a batch handler names
   * the event of the batch each outgoing event answers).
   */
  readonly cause?: Envelope;
}

/** Options of {@link Publish.many}: what applies to every event of the call. */
export type PublishManyOptions = Omit<PublishOptions, 'id' | 'key'>;

/**
 * Options of {@link Publish.schedule}: when the event is due — `at` a time or `afterMs` from now,
 * exactly one of them — and the publish options of the event itself. Its `occurredAt` defaults to
 * the due time.
 */
export type ScheduleOptions = PublishOptions &
  ({ readonly at: Date | number; readonly afterMs?: undefined } | { readonly afterMs: number; readonly at?: undefined }) & {
    /**
     * Names the timer, so it can be cancelled (or replaced) by name without keeping its id:
     * scheduling a name that is pending replaces that timer. Default: the event's id. 1 to 500
     * characters.
     */
    readonly timerId?: string;
  };

/** What {@link Publish.schedule} returns: the timer and the event it will publish. */
export interface ScheduledEvent<T = unknown> {
  readonly timerId: string;
  /** When it is due (ms since the epoch). */
  readonly dueAt: number;
  /** The event, as it will be published (its id is fixed now, so a duplicate publish is recognised). */
  readonly envelope: Envelope<T>;
}

/**
 * Appends events to the outbox inside the current transaction (or schedules them for later). Events
 * published in one transaction reach the broker in the order they were published (per key).
 */
export interface Publish {
  <S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options?: PublishOptions): Promise<Envelope<Static<S>>>;
  /**
   * Publishes several events of one definition in one call (one outbox append), in order: the
   * cheap way to publish a batch (an import, a batch handler's results). Each is validated; one
   * invalid item fails the whole call and nothing of it is appended.
   */
  many<S extends TSchema>(definition: EventDefinition<S>, items: readonly Static<S>[], options?: PublishManyOptions): Promise<Envelope<Static<S>>[]>;
  /**
   * Schedules the event for later, in the same transaction (a durable timer): it is validated and
   * built now, kept by the stores' timer store, and moved into the outbox once due by the app's
   * timer scheduler — in any process running one, after restarts too — then published like any
   * other event (at least once; its id is fixed, so consumers' inboxes absorb a duplicate). Throws
   * `timers-unavailable` when the stores have no timer store.
   *
   * @example
   * await ctx.publish.schedule(PaymentTimedOut, { orderId }, { afterMs: 30_000, timerId: `payment:${orderId}` });
   */
  schedule<S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options: ScheduleOptions): Promise<ScheduledEvent<Static<S>>>;
  /**
   * Cancels a pending timer in the same transaction; returns whether it was pending (false when
   * unknown, cancelled or already fired: a fired timer's event is on its way).
   */
  cancelTimer(timerId: string): Promise<boolean>;
}

/** What a policy may change when it passes a context on (see {@link HandlerContext.with}). */
export interface ContextOverrides<Tx> {
  readonly tx?: Tx;
  readonly publish?: Publish;
  readonly attempt?: number;
  readonly logger?: Logger;
  /** Replaces the attempt's signal (the new one is the only one the handler sees). */
  readonly signal?: AbortSignal;
  /**
   * Where {@link HandlerContext.emitAfterCommit} collects facts: the transaction policy gives each
   * run of its work a list of its own and emits it once that run committed.
   */
  readonly facts?: InstrumentationEvent[];
}

/** One attempt's scope, opened by {@link HandlerContext.beginAttempt}. */
export interface AttemptScope<Tx> {
  /** The context for the attempt: its `signal` aborts on {@link abort} or when the consumer stops. */
  readonly ctx: HandlerContext<Tx>;
  /** Aborts the attempt's signal with `reason` (first call wins). */
  abort(reason: unknown): void;
  /** Ends the scope once the attempt settled (it stops listening for the consumer's stop). */
  end(): void;
  /**
   * Whether the attempt's work returned unaborted and its transaction is committing (the
   * transaction policy says so). From then on the commit decides the attempt: a deadline that passes
   * may still abort its signal, but must not fail it, or an event whose effects commit would be
   * retried, even dead-lettered.
   */
  readonly committing: boolean;
}

/**
 * What a handler gets besides the event. Effects go through it: `tx` for the handler's own writes
 * and `publish` for outgoing events; both commit together with the inbox mark, or not at all.
 * Contexts are made by the consumer runtime (or {@link createHandlerContext} in tests) and never
 * changed: a policy passes a variation on with {@link with}.
 */
export interface HandlerContext<Tx = unknown> {
  /** The open store transaction (SQL on the SQLite and PostgreSQL engines); throws outside the transaction policy. */
  readonly tx: Tx;
  /** Publishes through the outbox in `tx`; correlation id and causation id are filled in from the event. */
  readonly publish: Publish;
  /** 1 on the first try, then 2, 3... */
  readonly attempt: number;
  readonly logger: Logger;
  /** Aborted when the attempt times out or the consumer stops. */
  readonly signal: AbortSignal;
  readonly group: string;
  /** The handler's name (defaults to `group:EventType`). */
  readonly handler: string;
  /** Where the event was read from. */
  readonly delivery: Delivery;
  /** True when the event is being redriven from the dead letter store. */
  readonly redrive: boolean;
  /** How this delivery is going, shared by every policy (see {@link DeliveryState}). */
  readonly state: DeliveryState;
  /** Whether the attempt was aborted (timeout, consumer stopping); cheaper than reading `signal`. */
  readonly aborted: boolean;
  /** Throws the abort reason when the attempt was aborted. */
  throwIfAborted(): void;
  /**
   * Emits `fact` on the app's instrumentation once this attempt's transaction committed: for a
   * fact of what the handler did (the saga's transitions, a request skipped past its deadline) to
   * count once, as the `handled` fact does. An attempt that fails or rolls back emits nothing, and
   * when a store runs the work again (SQLite's group commit, after a batch-mate failed) only the
   * run that committed counts. Throws outside the transaction policy's scope, as `tx` does.
   */
  emitAfterCommit(fact: InstrumentationEvent): void;
  /** A copy with `overrides` applied; this context is left untouched. */
  with(overrides: ContextOverrides<Tx>): HandlerContext<Tx>;
  /** Opens a scope for one attempt with its own abort (what the timeout policy uses). */
  beginAttempt(): AttemptScope<Tx>;
}

/** The one handler shape. */
export type Handler<E = Envelope, Tx = unknown> = (event: E, ctx: HandlerContext<Tx>) => Promise<void>;

/** A policy wrapped around a handler. */
export type Middleware<Tx = unknown> = (next: Handler<Envelope, Tx>) => Handler<Envelope, Tx>;

/**
 * Joins middleware around a handler. The first listed runs outermost: `compose(a, b)(h)` runs
 * a, then b, then h.
 */
export function compose<Tx>(...middleware: readonly Middleware<Tx>[]): (handler: Handler<Envelope, Tx>) => Handler<Envelope, Tx> {
  return (handler) => middleware.reduceRight<Handler<Envelope, Tx>>((next, wrap) => wrap(next), handler);
}

/** Returns a context like `base` with `overrides` applied (same as `base.with(overrides)`). */
export function deriveContext<Tx>(base: HandlerContext<Tx>, overrides: ContextOverrides<Tx>): HandlerContext<Tx> {
  return base.with(overrides);
}

/**
 * What a batch handler gets besides its events: one transaction for the whole batch, so the
 * inbox marks of every event, the handler's set-based writes and its outgoing events commit
 * together or not at all.
 */
export interface BatchContext<Tx = unknown> {
  /** The batch's store transaction. */
  readonly tx: Tx;
  /**
   * Publishes through the outbox in `tx`. Pass `{ cause: event }` so an outgoing event carries the
   * correlation id and trace of the event it answers (on the one-by-one path the cause defaults to
   * the event being handled).
   */
  readonly publish: Publish;
  readonly logger: Logger;
  readonly group: string;
  readonly handler: string;
  /** Aborted when the batch's deadline passes or the consumer stops. */
  readonly signal: AbortSignal;
  /** Where each event was read from, index for index with the events. */
  readonly deliveries: readonly Delivery[];
  /**
   * False for a whole batch. True when the event is being handled alone, through the handler's
   * full pipeline (retries, dead letter), because its batch failed, or on a redrive.
   */
  readonly alone: boolean;
  /** 1, or the attempt number on the one-by-one path. */
  readonly attempt: number;
}

/**
 * A handler of many events at once: the ready events of a partition, in offset order (so per key
 * in order), those already applied removed by the inbox. One call, one transaction: write the
 * effect of the whole batch with set-based statements.
 */
export type BatchHandler<E = Envelope, Tx = unknown> = (events: readonly E[], ctx: BatchContext<Tx>) => Promise<void>;

/**
 * A policy around a batch handler's whole-batch call (see {@link PolicyStep.createBatch}): it runs
 * inside the batch's transaction, after the inbox marks, and may change the context it passes on
 * (a traced `publish`, a logger with more fields).
 */
export type BatchMiddleware<Tx = unknown> = (next: BatchHandler<Envelope, Tx>) => BatchHandler<Envelope, Tx>;

